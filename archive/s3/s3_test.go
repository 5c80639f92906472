package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/archive/storetest"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

var bucketSeq atomic.Int64

// newStore returns a store on a new bucket of the shared MinIO server.
func newStore(t testing.TB) *s3.Store {
	t.Helper()
	endpoint, access, secret := miniotest.StartShared(t)
	bucket := fmt.Sprintf("eseal-test-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	s, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: bucket, AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) archive.Store { return newStore(t) }, storetest.Options{})
}

// TestNewReopensLockedBucket: New on an existing Object Lock bucket works.
func TestNewReopensLockedBucket(t *testing.T) {
	s := newStore(t)
	endpoint, access, secret := miniotest.StartShared(t)
	if _, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: s.Bucket(), AccessKey: access, SecretKey: secret}); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

// TestRefusesBucketWithoutLock: a bucket made without Object Lock cannot
// become a store, since write-once would not be enforced.
func TestRefusesBucketWithoutLock(t *testing.T) {
	endpoint, access, secret := miniotest.StartShared(t)
	client, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unlocked := fmt.Sprintf("eseal-unlocked-%d", time.Now().UnixNano()%1e9)
	if err := client.MakeBucket(ctx, unlocked, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: unlocked, AccessKey: access, SecretKey: secret})
	if !errors.Is(err, s3.ErrNoObjectLock) {
		t.Fatalf("New on a bucket without Object Lock: err = %v, want ErrNoObjectLock", err)
	}
}

// TestWORMOnServer goes around the store with a raw S3 client: a retained
// document can be neither deleted (with or without its version id, even
// forced) nor replaced, and its original version stays readable.
func TestWORMOnServer(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	c, bucket := s.Client(), s.Bucket()
	const key = "docs/signed.pdf"
	info, err := archive.PutBytesIfAbsent(ctx, s, key, []byte("original"))
	if err != nil {
		t.Fatal(err)
	}
	if info.VersionID == "" {
		t.Fatal("no version id: bucket not versioned")
	}
	if err := s.SetRetention(ctx, key, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// The store refuses.
	var le *archive.LockedError
	if err := s.Delete(ctx, key); !errors.As(err, &le) {
		t.Errorf("store Delete: err = %v, want LockedError", err)
	}
	if err := s.SetRetention(ctx, key, time.Now().Add(time.Minute)); !errors.As(err, &le) {
		t.Errorf("store shorten: err = %v, want LockedError", err)
	}

	// The server refuses, whatever the client.
	err = c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID})
	t.Logf("raw RemoveObject(version): %v", err)
	if err == nil {
		t.Fatal("raw RemoveObject with the version id succeeded")
	}
	if r := minio.ToErrorResponse(err); r.StatusCode != 400 || r.Code != "InvalidRequest" {
		t.Errorf("raw RemoveObject: %d %s, want 400 InvalidRequest (MinIO's WORM answer)", r.StatusCode, r.Code)
	}
	err = c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
	t.Logf("raw RemoveObject(version, governance bypass): %v", err)
	if err == nil {
		t.Fatal("raw RemoveObject with governance bypass succeeded on COMPLIANCE")
	}
	err = c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{ForceDelete: true})
	t.Logf("raw RemoveObject(force): %v", err)
	mode := minio.Compliance
	shorter := time.Now().Add(time.Minute).Truncate(time.Second)
	err = c.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &shorter, VersionID: info.VersionID})
	t.Logf("raw PutObjectRetention(shorter): %v", err)
	if err == nil {
		t.Error("raw PutObjectRetention shortened COMPLIANCE retention")
	}
	gov := minio.Governance
	err = c.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &gov, RetainUntilDate: &shorter, VersionID: info.VersionID, GovernanceBypass: true})
	t.Logf("raw PutObjectRetention(governance, bypass): %v", err)
	if err == nil {
		t.Error("raw PutObjectRetention switched COMPLIANCE to GOVERNANCE")
	}

	// A plain PUT makes a new version (S3 has no in-place overwrite) and a
	// DELETE without version id a delete marker; neither touches the
	// original version.
	up, err := c.PutObject(ctx, bucket, key, strings.NewReader("forged"), 6, minio.PutObjectOptions{})
	t.Logf("raw PutObject without If-None-Match: version %q, %v", up.VersionID, err)
	if err == nil && up.VersionID == info.VersionID {
		t.Fatal("raw PutObject replaced the original version")
	}
	err = c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
	t.Logf("raw RemoveObject(no version): %v", err)

	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{VersionID: info.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || string(b) != "original" {
		t.Fatalf("original version: %q, %v", b, err)
	}
	st, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{VersionID: info.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if st.Metadata.Get("X-Amz-Object-Lock-Mode") != "COMPLIANCE" {
		t.Errorf("original version lock mode %q, want COMPLIANCE", st.Metadata.Get("X-Amz-Object-Lock-Mode"))
	}
}

// TestDeleteAfterRetentionOnServer: once COMPLIANCE retention has passed
// (MinIO's clock) and no hold is set, the version can be removed; a hold
// set after expiry still blocks a raw version delete.
func TestDeleteAfterRetentionOnServer(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c, bucket := s.Client(), s.Bucket()
	a, err := archive.PutBytesIfAbsent(ctx, s, "a", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := archive.PutBytesIfAbsent(ctx, s, "b", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(2 * time.Second)
	for _, k := range []string{"a", "b"} {
		if err := s.SetRetention(ctx, k, until); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetLegalHold(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(until) + 1200*time.Millisecond) // past the rounded-up second
	err = c.RemoveObject(ctx, bucket, "b", minio.RemoveObjectOptions{VersionID: b.VersionID})
	t.Logf("raw RemoveObject(held version, retention passed): %v", err)
	if err == nil {
		t.Fatal("raw RemoveObject removed a held version")
	}
	if err := c.RemoveObject(ctx, bucket, "a", minio.RemoveObjectOptions{VersionID: a.VersionID}); err != nil {
		t.Fatalf("raw RemoveObject after retention: %v", err)
	}
	if _, err := c.StatObject(ctx, bucket, "a", minio.StatObjectOptions{VersionID: a.VersionID}); err == nil {
		t.Error("version still there after delete")
	}
	n := 0
	for oi := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "a", WithVersions: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		n++
	}
	if n != 0 {
		t.Errorf("%d versions or markers left for a", n)
	}
}

// TestListSkipsDeleteMarker: a delete marker made by a raw client hides the
// key from List, Get and Head, as on S3 itself. (The store never makes
// one; this documents what it sees if someone does.)
func TestListSkipsDeleteMarker(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, k := range []string{"m/1", "m/2"} {
		if _, err := archive.PutBytesIfAbsent(ctx, s, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Client().RemoveObject(ctx, s.Bucket(), "m/1", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := s.List(ctx, "m/", func(oi archive.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "m/2" {
		t.Errorf("List = %q, want [m/2]", keys)
	}
	if _, err := s.Head(ctx, "m/1"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Head behind delete marker: %v, want ErrNotFound", err)
	}
}

// TestMultipartPutIfAbsent: an object above minio-go's 16 MiB part size
// goes up in parts, and If-None-Match is checked on completion.
func TestMultipartPutIfAbsent(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := newStore(t)
	ctx := context.Background()
	const size = 17 << 20
	if _, err := s.PutIfAbsent(ctx, "big", bytes.NewReader(make([]byte, size)), size); err != nil {
		t.Fatal(err)
	}
	_, err := s.PutIfAbsent(ctx, "big", bytes.NewReader(make([]byte, size)), size)
	if !errors.Is(err, archive.ErrExists) {
		t.Fatalf("second multipart put: err = %v, want ErrExists", err)
	}
}

// TestPutResponseLost: the response to a successful put is lost, minio-go
// retries, and the retry meets the object with 412. The store must still
// report success, or the winner of an authorization commit would believe
// it had lost.
func TestPutResponseLost(t *testing.T) {
	endpoint, access, secret := miniotest.StartShared(t)
	target, _ := url.Parse("http://" + endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var dropped atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/authz/1/consumed") && !dropped.Swap(true) {
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r) // the put happens…
			if rec.Code != http.StatusOK {
				t.Errorf("first put: %d %s", rec.Code, rec.Body)
			}
			conn, _, err := w.(http.Hijacker).Hijack() // …but its answer never arrives
			if err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	s, err := s3.New(context.Background(), s3.Config{
		Endpoint: strings.TrimPrefix(front.URL, "http://"), Bucket: fmt.Sprintf("eseal-lost-response-%d", time.Now().UnixNano()%1e9), AccessKey: access, SecretKey: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := archive.PutBytesIfAbsent(ctx, s, "authz/1/consumed", []byte("doc-1")); err != nil {
		t.Fatalf("put whose first response was lost: %v", err)
	}
	if !dropped.Load() {
		t.Fatal("proxy did not drop the response")
	}
	if _, err := archive.PutBytesIfAbsent(ctx, s, "authz/1/consumed", []byte("doc-2")); !errors.Is(err, archive.ErrExists) {
		t.Fatalf("another put: err = %v, want ErrExists", err)
	}
}

// TestBackupKeepsEveryVersion: a version PUT around the store in front of a
// retained one (what the service's own credentials can do) is listed
// together with it; a backup to the filesystem keeps the first version —
// the one the service wrote — under the key, with its retention, and the
// later one under VersionKey; restoring that into a new bucket locks the
// committed one again.
func TestBackupKeepsEveryVersion(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const key = "docs/v/document.pdf"
	orig, err := archive.PutBytesIfAbsent(ctx, s, key, []byte("committed"))
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := s.SetRetention(ctx, key, until); err != nil {
		t.Fatal(err)
	}
	foreign, err := s.Client().PutObject(ctx, s.Bucket(), key, strings.NewReader("foreign"), 7, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var versions []archive.ObjectInfo
	if err := s.ListVersions(ctx, "docs/", func(o archive.ObjectInfo) error {
		versions = append(versions, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].VersionID != foreign.VersionID || versions[0].Noncurrent ||
		versions[1].VersionID != orig.VersionID || !versions[1].Noncurrent {
		t.Fatalf("ListVersions = %+v; want the foreign version (current), then the committed one", versions)
	}
	// A pin without version id (an object written after the commit that
	// pins it) is the key's first version, not the one in front.
	if b, _, err := archive.ReadPinned(ctx, s, key, archive.PinOf("", []byte("committed")), 100); err != nil || string(b) != "committed" {
		t.Errorf("pinned read without version id: %q, %v; want the committed version", b, err)
	}

	bak, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := archive.Backup(ctx, s, bak, archive.CopyOptions{})
	if err != nil || rep.Versions != 2 || rep.Copied != 2 || rep.Retained != 1 {
		t.Fatalf("backup: %+v, %v", rep, err)
	}
	later := archive.VersionKey(key, foreign.VersionID)
	for k, want := range map[string]string{key: "committed", later: "foreign"} {
		b, info, err := archive.GetBytes(ctx, bak, k)
		if err != nil || string(b) != want {
			t.Fatalf("backup %s = %q, %v; want %q", k, b, err, want)
		}
		if (k == key) != info.RetainUntil.Equal(until) {
			t.Errorf("backup %s retained until %v (source: committed version until %v)", k, info.RetainUntil, until)
		}
	}
	// A pin naming the committed version finds it in the backup too.
	if b, _, err := archive.ReadPinned(ctx, bak, key, archive.PinOf(orig.VersionID, []byte("committed")), 100); err != nil || string(b) != "committed" {
		t.Errorf("pinned read of the backup: %q, %v", b, err)
	}

	restored := newStore(t)
	if rep, err := archive.Restore(ctx, bak, restored, archive.CopyOptions{}); err != nil || rep.Copied != 2 {
		t.Fatalf("restore: %+v, %v", rep, err)
	}
	var le *archive.LockedError
	if err := restored.Delete(ctx, key); !errors.As(err, &le) {
		t.Errorf("restored committed version: delete err = %v, want LockedError", err)
	}
	if _, err := archive.Restore(ctx, bak, restored, archive.CopyOptions{}); err == nil {
		t.Error("a second restore into the restored bucket was not refused")
	}
}
