package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/s3/miniotest"
	"eseal/archive/store"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestBackupRestoreCLI: backup, wipe, restore — fs to fs, MinIO to fs and
// fs to MinIO. After the restore every document verifies VALID and passes
// fixity, the audit log verifies, retention and legal holds are back
// (deletion refused), and a second restore into the rebuilt store is
// refused. The restore needs the same key-encryption key (the keys travel
// wrapped), and no key is needed to make or restore the copy.
func TestBackupRestoreCLI(t *testing.T) {
	var endpoint string
	minioURI := func(bucket string) string {
		if endpoint == "" {
			var access, secret string
			endpoint, access, secret = miniotest.StartShared(t)
			t.Setenv("AWS_ACCESS_KEY_ID", access)
			t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		}
		return "s3://" + endpoint + "/" + bucket + "?tls=false"
	}
	for i, tc := range []struct{ name, src, bak string }{
		{"fs-to-fs", "fs", "fs"},
		{"minio-to-fs", "minio", "fs"},
		{"fs-to-minio", "fs", "minio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bucket := fmt.Sprintf("eseal-backup-%d-%d", time.Now().UnixNano()%1e9, i)
			var storeArgs, restoreArgs []string
			if tc.src == "minio" {
				storeArgs = []string{"--store", minioURI(bucket + "-live")}
				// A COMPLIANCE bucket cannot be wiped: the restore goes
				// into a new, empty one.
				restoreArgs = []string{"--store", minioURI(bucket + "-restored")}
			}
			bak := filepath.Join(dir, "backup")
			if tc.bak == "minio" {
				bak = minioURI(bucket + "-backup")
			}
			cli := func(args ...string) (string, int) {
				return esealCLI(append(append([]string{"--dir", dir}, storeArgs...), args...)...)
			}
			if out, code := cli("init", "--org", "测试市行政审批服务局"); code != 0 {
				t.Fatalf("init: exit %d\n%s", code, out)
			}
			docs := stampForBackup(t, &globals{dir: dir, store: flagValue(storeArgs)})

			out, code := cli("archive", "backup", "--to", bak)
			if code != 0 || !strings.Contains(out, "backup: ") {
				t.Fatalf("backup: exit %d\n%s", code, out)
			}
			checkKeysWrapped(t, bak)
			if out, code := cli("archive", "backup", "--to", bak); code != 0 || !strings.Contains(out, " 0 copied") {
				t.Fatalf("second backup copied again: exit %d\n%s", code, out)
			}

			// Wipe: the live directory goes; a live bucket stays, locked,
			// and the restore gets a new one.
			if tc.src == "fs" {
				if err := os.RemoveAll(filepath.Join(dir, "store")); err != nil {
					t.Fatal(err)
				}
			} else {
				storeArgs = restoreArgs
			}
			if out, code := cli("archive", "fixity"); code == 0 {
				t.Fatalf("fixity on the wiped store passed:\n%s", out)
			}
			if out, code := cli("archive", "restore", "--from", bak); code != 0 {
				t.Fatalf("restore: exit %d\n%s", code, out)
			}
			if out, code := cli("archive", "restore", "--from", bak); code != 1 || !strings.Contains(out, "not empty") {
				t.Fatalf("second restore: exit %d, want 1 and 'not empty'\n%s", code, out)
			}
			if out, code := cli("archive", "fixity"); code != 0 || !strings.Contains(out, fmt.Sprintf("%d documents", len(docs))) {
				t.Fatalf("fixity after restore: exit %d\n%s", code, out)
			}
			if out, code := cli("archive", "audit", "verify"); code != 0 || !strings.Contains(out, "audit log OK") {
				t.Fatalf("audit verify after restore: exit %d\n%s", code, out)
			}
			checkRestored(t, &globals{dir: dir, store: flagValue(storeArgs)}, docs)
		})
	}
}

func flagValue(args []string) string {
	if len(args) == 2 {
		return args[1]
	}
	return ""
}

// stampForBackup stamps three documents, one per retention class, and puts
// the first on legal hold; it returns their ids.
func stampForBackup(t *testing.T, g *globals) []string {
	t.Helper()
	ctx := context.Background()
	svc, err := g.openService(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	az, err := svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sl.ID, CaseNo: "BAK-1", MaxUses: 3, GrantedBy: "负责人"})
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for i, r := range []string{"10y", "30y", "permanent"} {
		st, err := svc.Stamp(ctx, seal.StampRequest{SealID: sl.ID, AuthorizationID: az.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150},
			Record: seal.RecordInput{Title: fmt.Sprintf("决定书 %d", i+1), CaseNo: "BAK-1", Retention: r}, PDF: pdftest.Document(pdftest.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, st.DocumentID)
	}
	if _, err := svc.Documents().SetLegalHold(ctx, docs[0], true, "诉讼", "test"); err != nil {
		t.Fatal(err)
	}
	if err := g.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return docs
}

// checkRestored verifies every document, and that the store refuses to
// delete each document and record and keeps the legal hold.
func checkRestored(t *testing.T, g *globals, docs []string) {
	t.Helper()
	ctx := context.Background()
	svc, err := g.openService(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := &seal.Verifier{Trust: keys.NewTrustStore(svc.Registry.Roots()...), Registry: svc.Registry}
	for i, id := range docs {
		pdf, info, err := archive.GetBytes(ctx, svc.Store, archive.DocumentKey(id))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := v.VerifyPDF(ctx, bytes.NewReader(pdf), int64(len(pdf)))
		if err != nil || rep.Verdict != seal.Valid {
			t.Errorf("restored %s: %v, %v", id, rep, err)
		}
		if info.LegalHold != (i == 0) || info.RetainUntil.Before(time.Now().AddDate(9, 0, 0)) {
			t.Errorf("restored %s: hold %v, retained until %v", id, info.LegalHold, info.RetainUntil)
		}
		for _, k := range []string{archive.DocumentKey(id), archive.RecordKey(id)} {
			var le *archive.LockedError
			if err := svc.Store.Delete(ctx, k); !errors.As(err, &le) {
				t.Errorf("restored %s: delete err = %v, want *archive.LockedError", k, err)
			}
		}
	}
}

// TestBackupHostileCLI: bad store locations are refused with a clear
// message, exit 1, and nothing written.
func TestBackupHostileCLI(t *testing.T) {
	dir := t.TempDir()
	if out, code := esealCLI("init", "--dir", dir, "--org", "测试局"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	empty := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"backup without --to", []string{"archive", "backup"}, `"to" not set`},
		{"backup into itself", []string{"archive", "backup", "--to", filepath.Join(dir, "store")}, "the store itself"},
		{"backup to unknown scheme", []string{"archive", "backup", "--to", "ftp://host/x"}, "unknown scheme"},
		{"backup with credentials in the URI", []string{"archive", "backup", "--to", "s3://key:secret@127.0.0.1:1/b"}, "credentials in the URI"},
		{"backup to S3 without credentials", []string{"archive", "backup", "--to", "s3://127.0.0.1:1/b?tls=false"}, "AWS_ACCESS_KEY_ID"},
		{"backup to a bucket path", []string{"archive", "backup", "--to", "s3://127.0.0.1:1/b/c"}, "exactly one path element"},
		{"restore from a missing directory", []string{"archive", "restore", "--from", filepath.Join(dir, "nowhere")}, "no such directory"},
		{"restore from a file", []string{"archive", "restore", "--from", filepath.Join(dir, "master.key")}, "no such directory"},
		{"restore from an empty directory", []string{"--dir", empty, "archive", "restore", "--from", t.TempDir()}, "holds no objects"},
		{"restore into a live store", []string{"archive", "restore", "--from", t.TempDir()}, "not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] != "--dir" {
				args = append([]string{"--dir", dir}, args...)
			}
			out, code := esealCLI(args...)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 1 and %q:\n%s", code, tc.want, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore created its source directory: %v", err)
	}
}

// checkKeysWrapped: the backup holds every private key as it is stored,
// wrapped under the key-encryption key, which it does not hold.
func checkKeysWrapped(t *testing.T, uri string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = st.List(ctx, "", func(o archive.ObjectInfo) error {
		if strings.Contains(o.Key, "master") {
			t.Errorf("the backup holds %s", o.Key)
		}
		if !strings.HasSuffix(o.Key, ".key") {
			return nil
		}
		n++
		b, _, err := archive.GetBytes(ctx, st, o.Key)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte("-----BEGIN ESEAL WRAPPED PRIVATE KEY-----")) {
			t.Errorf("backup %s is not a wrapped key: %.40q", o.Key, b)
		}
		return nil
	})
	if err != nil || n < 4 {
		t.Fatalf("keys in the backup: %d, %v", n, err)
	}
}
