package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/lifecycle"
	"eseal/seal"
)

func TestDisposal(t *testing.T) {
	e, root := newFsEnv(t, "items:\n  SHORT-1: 1h\n")
	ctx := context.Background()
	short := e.stamp(t, "SHORT-1", "D-1")
	keep := e.stamp(t, "UNLISTED", "D-1") // not in the schedule: permanent
	if keep.Record.Retention != archive.Permanent {
		t.Fatalf("an unlisted item got %s", keep.Record.Retention)
	}
	req := lifecycle.DisposalRequest{DocumentIDs: []string{short.DocumentID}, ApprovalID: "销审〔2026〕3号",
		Witnesses: [2]string{"张三", "李四"}, By: "archivist"}

	var de *lifecycle.DisposalError
	if _, err := e.docs.Dispose(ctx, req); !errors.As(err, &de) {
		t.Fatalf("disposal before retention end: %v", err)
	}
	bad := req
	bad.Witnesses = [2]string{"张三", "张三"}
	var ie *lifecycle.InputError
	if _, err := e.docs.Dispose(ctx, bad); !errors.As(err, &ie) {
		t.Fatalf("one witness twice: %v", err)
	}

	// Retention passes, but a legal hold is on.
	if _, err := e.docs.SetLegalHold(ctx, short.DocumentID, true, "诉讼保全", "archivist"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.docs.Dispose(ctx, req); !errors.As(err, &de) {
		t.Fatalf("disposal under hold: %v", err)
	}
	if due, _ := e.docs.DueForDisposal(ctx); len(due) != 0 {
		t.Fatalf("held document listed as due: %d", len(due))
	}
	if _, err := e.docs.SetLegalHold(ctx, short.DocumentID, false, "诉讼结束", "archivist"); err != nil {
		t.Fatal(err)
	}
	due, err := e.docs.DueForDisposal(ctx)
	if err != nil || len(due) != 1 || due[0].DocumentID != short.DocumentID {
		t.Fatalf("due for disposal: %v %v", err, due)
	}
	// A permanent document cannot be slipped into the same disposal.
	withKeep := req
	withKeep.DocumentIDs = []string{short.DocumentID, keep.DocumentID}
	if _, err := e.docs.Dispose(ctx, withKeep); !errors.As(err, &de) || de.DocumentID != keep.DocumentID {
		t.Fatalf("permanent document in a disposal: %v", err)
	}
	if _, err := e.store.Head(ctx, archive.DocumentKey(short.DocumentID)); err != nil {
		t.Fatalf("a refused disposal deleted something: %v", err)
	}

	// A disposal the audit log cannot record (its shards made unwritable:
	// each directory replaced by a file) is not begun.
	shards, err := filepath.Glob(filepath.Join(root, "audit~", "*~"))
	if err != nil {
		t.Fatal(err)
	}
	var moved []string
	for _, sh := range shards {
		if b := filepath.Base(sh); b == "nodes~" || b == "checkpoints~" {
			continue
		}
		if err := os.Rename(sh, sh+".aside"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sh, nil, 0o400); err != nil {
			t.Fatal(err)
		}
		moved = append(moved, sh)
	}
	if len(moved) == 0 {
		t.Fatalf("no audit shard under %s", root)
	}
	var ae *seal.AuditError
	if _, err := e.docs.Dispose(ctx, req); !errors.As(err, &ae) {
		t.Fatalf("disposal with the audit log unwritable: %v", err)
	}
	for _, k := range []string{archive.DocumentKey(short.DocumentID), archive.RecordKey(short.DocumentID), lifecycle.TombstoneKey(short.DocumentID)} {
		if _, err := e.store.Head(ctx, k); (k == lifecycle.TombstoneKey(short.DocumentID)) != errors.Is(err, archive.ErrNotFound) {
			t.Fatalf("%s after a disposal the log could not record: %v", k, err)
		}
	}
	for _, sh := range moved {
		if err := os.Remove(sh); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(sh+".aside", sh); err != nil {
			t.Fatal(err)
		}
	}

	reg, err := e.docs.Dispose(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{archive.DocumentKey(short.DocumentID), archive.RecordKey(short.DocumentID)} {
		if _, err := e.store.Head(ctx, k); !errors.Is(err, archive.ErrNotFound) {
			t.Fatalf("%s survived disposal: %v", k, err)
		}
	}
	ts, err := e.store.Head(ctx, lifecycle.TombstoneKey(short.DocumentID))
	if err != nil || ts.RetainUntil.Before(e.clock.Now().AddDate(99, 0, 0)) {
		t.Fatalf("tombstone: %v %+v", err, ts)
	}
	if len(reg.Documents) != 1 || e.count(t, audit.RecordDisposed) != 1 {
		t.Fatalf("register %+v, %d audit entries", reg, e.count(t, audit.RecordDisposed))
	}
	if _, err := e.store.Head(ctx, archive.DocumentKey(keep.DocumentID)); err != nil {
		t.Fatalf("the permanent document is gone: %v", err)
	}
	if _, err := e.docs.ByRetrievalCode(ctx, short.RetrievalCode); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("the destroyed document's code still opens something: %v", err)
	}
	// The audit log, with the disposal in it, verifies.
	if _, err := e.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	cert, err := e.svc.Registry.AuditCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(ctx, e.store, cert.PublicKey); err != nil || !rep.OK() || rep.Entries < 8 {
		t.Fatalf("audit verify after disposal: %v %+v", err, rep)
	}
	for _, a := range []audit.Action{audit.SealCreated, audit.AuthorizationGranted, audit.DocumentStamped, audit.LegalHoldSet, audit.LegalHoldCleared} {
		if e.count(t, a) == 0 {
			t.Errorf("no %s audit event", a)
		}
	}
}

// TestCommittedReads: a committed document is found by its id and its
// code, typed loosely; its hold events are kept beside it.
func TestCommittedReads(t *testing.T) {
	e, _ := newFsEnv(t, "items: {}\n")
	ctx := context.Background()
	d := e.stamp(t, "", "C-1")
	rec, err := e.docs.CommittedRecord(ctx, d.DocumentID)
	if err != nil || rec.SM3 != d.Record.SM3 {
		t.Fatalf("committed record: %v %+v", err, rec)
	}
	if ok, err := e.docs.Committed(ctx, rec); err != nil || !ok {
		t.Fatalf("committed: %v %v", ok, err)
	}
	loose := strings.ToLower(strings.ReplaceAll(d.RetrievalCode, "-", " "))
	for _, code := range []string{d.RetrievalCode, loose} {
		got, err := e.docs.ByRetrievalCode(ctx, code)
		if err != nil || got.DocumentID != d.DocumentID {
			t.Fatalf("code %q: %v %+v", code, err, got)
		}
	}
	got, pdf, err := e.docs.CommittedPDF(ctx, d.DocumentID)
	if err != nil || got.DocumentID != d.DocumentID || int64(len(pdf)) != d.Record.Size {
		t.Fatalf("committed PDF: %v, %d bytes", err, len(pdf))
	}
	for i, on := range []bool{true, false, true} {
		ev, err := e.docs.SetLegalHold(ctx, d.DocumentID, on, "诉讼", "archivist")
		if err != nil || ev.On != on {
			t.Fatalf("hold %d: %v %+v", i, err, ev)
		}
	}
	var held []string
	if err := e.store.List(ctx, archive.DocumentPrefix(d.DocumentID)+"holds/", func(o archive.ObjectInfo) error {
		held = append(held, o.Key)
		return nil
	}); err != nil || len(held) != 3 {
		t.Fatalf("hold events: %v %v", err, held)
	}
	if info, err := e.store.Head(ctx, archive.RecordKey(d.DocumentID)); err != nil || !info.LegalHold {
		t.Fatalf("record not held: %v %+v", err, info)
	}
}

// TestHostileLifecycleInput: every malformed request to the lifecycle is
// refused with the field it is about, or not found, and changes nothing.
func TestHostileLifecycleInput(t *testing.T) {
	e, _ := newFsEnv(t, "items: {}\n")
	ctx := context.Background()
	d := e.stamp(t, "", "H-1")
	ok := lifecycle.DisposalRequest{DocumentIDs: []string{d.DocumentID}, ApprovalID: "销审〔2026〕1号", Witnesses: [2]string{"张三", "李四"}}
	ids := func(ids ...string) lifecycle.DisposalRequest { r := ok; r.DocumentIDs = ids; return r }
	approval := func(a string) lifecycle.DisposalRequest { r := ok; r.ApprovalID = a; return r }
	witnesses := func(a, b string) lifecycle.DisposalRequest { r := ok; r.Witnesses = [2]string{a, b}; return r }
	for _, c := range []struct {
		name  string
		req   lifecycle.DisposalRequest
		field string // "" for a DisposalError
	}{
		{"no approval", approval(""), "approval_id"},
		{"approval with a newline", approval("a\nb"), "approval_id"},
		{"approval with a space", approval("销审 1"), "approval_id"},
		{"approval of 65", approval(strings.Repeat("a", 65)), "approval_id"},
		{"no witnesses", witnesses("", ""), "witnesses"},
		{"one witness blank", witnesses("张三", "  "), "witnesses"},
		{"one witness twice", witnesses("张三", " 张三 "), "witnesses"},
		{"witness of 65", witnesses(strings.Repeat("王", 65), "李四"), "witnesses"},
		{"no documents", ids(), "documents"},
		{"a document twice", ids(d.DocumentID, d.DocumentID), "documents"},
		{"a path", ids("../docs/x"), ""},
		{"an unknown document", ids("doc-aaaaaaaaaaaaaaaa"), ""},
		{"upper case", ids(strings.ToUpper(d.DocumentID)), ""},
		{"empty id", ids(""), ""},
	} {
		_, err := e.docs.Dispose(ctx, c.req)
		var ie *lifecycle.InputError
		var de *lifecycle.DisposalError
		switch {
		case c.field != "" && (!errors.As(err, &ie) || ie.Field != c.field):
			t.Errorf("%s: %v, want an input error on %s", c.name, err, c.field)
		case c.field == "" && !errors.As(err, &de):
			t.Errorf("%s: %v, want a disposal error", c.name, err)
		}
	}
	for _, c := range []struct {
		name, doc, reason string
		input             bool
	}{
		{"no reason", d.DocumentID, "", true},
		{"blank reason", d.DocumentID, " \t ", true},
		{"reason of 513", d.DocumentID, strings.Repeat("因", 513), true},
		{"a path", "../../authz", "诉讼", false},
		{"unknown", "doc-aaaaaaaaaaaaaaaa", "诉讼", false},
		{"another unit's form", "doc-aaaaaaaa-aaaaaaaaaaaaaaaa", "诉讼", false},
	} {
		_, err := e.docs.SetLegalHold(ctx, c.doc, true, c.reason, "archivist")
		var ie *lifecycle.InputError
		if c.input && !errors.As(err, &ie) || !c.input && !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("hold %s: %v", c.name, err)
		}
	}
	for _, code := range []string{"", "ABCD", strings.Repeat("A", 19), strings.Repeat("A", 21), "AAAA-AAAA-AAAA-AAAA-AAA1",
		"AAAA/AAAA/AAAA/AAAA/AAAA", "../../docs/x", strings.Repeat("A", 20), "ÅAAA-AAAA-AAAA-AAAA-AAAA"} {
		if rec, err := e.docs.ByRetrievalCode(ctx, code); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("code %q: %v %+v, want not found", code, err, rec)
		}
	}
	if info, err := e.store.Head(ctx, archive.DocumentKey(d.DocumentID)); err != nil || info.LegalHold {
		t.Fatalf("the document after hostile requests: %v %+v", err, info)
	}
	if n := e.count(t, audit.LegalHoldSet) + e.count(t, audit.RecordDisposed); n != 0 {
		t.Fatalf("%d audit entries for refused requests", n)
	}
}
