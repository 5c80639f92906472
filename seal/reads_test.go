package seal_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"eseal/archive"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// The stamping reads less than it did (docs/performance.md, "Reads per
// stamping"): a seal's status and policy come from one listing, their newest
// events from memory when the listing shows the ones read before; an
// authorization's revocation and its slots come from the listing of its
// slots. These tests show that nothing a replica remembers hides a
// change from it.

func stampWith(ctx context.Context, svc *seal.Service, sealID, authz string) error {
	_, err := svc.Stamp(ctx, seal.StampRequest{SealID: sealID, AuthorizationID: authz,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "许可决定书", CaseNo: "R-1"}, PDF: pdftest.Document(pdftest.Options{})})
	return err
}

// TestChangesOnAnotherReplicaSeen: a replica that has stamped (and so holds
// the seal's newest events and the grant in memory) sees at its next
// stamping what another replica changed since: the seal suspended or
// revoked, its policy set to person, the authorization revoked.
func TestChangesOnAnotherReplicaSeen(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change func(b *seal.Registry, sealID, authz string) error
		// want says whether the stamping's error is the refusal expected.
		want func(error) bool
	}{
		{"seal suspended", func(b *seal.Registry, id, _ string) error {
			_, err := b.SetStatus(ctx, id, seal.Suspended, "保管人变更", "b")
			return err
		}, func(err error) bool {
			var se *seal.StateError
			return errors.As(err, &se) && se.Status == seal.Suspended
		}},
		{"seal revoked", func(b *seal.Registry, id, _ string) error {
			_, err := b.SetStatus(ctx, id, seal.Revoked, "遗失", "b")
			return err
		}, func(err error) bool {
			var se *seal.StateError
			return errors.As(err, &se) && se.Status == seal.Revoked
		}},
		{"policy set to person", func(b *seal.Registry, id, _ string) error {
			return b.SetPolicy(ctx, id, seal.PolicyPerson, "b")
		}, func(err error) bool {
			var ae *seal.AuthzError
			return errors.As(err, &ae) && ae.Reason == seal.AuthzPolicy
		}},
		{"authorization revoked", func(b *seal.Registry, _, authz string) error {
			_, err := b.RevokeAuthorization(ctx, authz, "撤回", "b")
			return err
		}, func(err error) bool {
			var ae *seal.AuthzError
			return errors.As(err, &ae) && ae.Reason == seal.AuthzRevoked
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _ := newFsServiceEnv(t)
			a := e.svc
			b := replica(t, e, e.store, e.clock, "b")
			var authz []string
			for range 2 {
				g, err := a.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", MaxUses: 2, GrantedBy: "test"})
				if err != nil {
					t.Fatal(err)
				}
				authz = append(authz, g.ID)
			}
			// Replica a reads everything once: the seal's events, the grants.
			for _, id := range authz {
				if err := stampWith(ctx, a, e.sealID, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.change(b.Registry, e.sealID, authz[1]); err != nil {
				t.Fatal(err)
			}
			err := stampWith(ctx, a, e.sealID, authz[1])
			if !c.want(err) {
				t.Fatalf("stamping on replica a after the change on b: %v", err)
			}
			// Replica b, which made the change, agrees.
			if err := stampWith(ctx, b, e.sealID, authz[1]); !c.want(err) {
				t.Fatalf("stamping on replica b after its change: %v", err)
			}
		})
	}
}

// TestStatusEventWrittenAgainIsReadAgain: a status event deleted and written
// again under the same key with other content (an audit append that failed
// undoes its event, and another replica's change takes the key) is read
// anew, not served from the copy a replica read before.
func TestStatusEventWrittenAgainIsReadAgain(t *testing.T) {
	ctx := context.Background()
	e, root := newFsServiceEnv(t)
	s, err := e.svc.Registry.Get(ctx, e.sealID)
	if err != nil || s.Status != seal.Active {
		t.Fatalf("seal: %+v, %v", s, err)
	}
	keys := listKeys(t, e.store, "seals/"+e.sealID+"/status/")
	newest := keys[len(keys)-1]
	rmObject(t, root, newest)
	ev := `{"status": "suspended", "reason": "written again under the same key", "time": "2026-01-01T00:00:00Z"}`
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, newest, []byte(ev)); err != nil {
		t.Fatal(err)
	}
	if s, err = e.svc.Registry.Get(ctx, e.sealID); err != nil || s.Status != seal.Suspended {
		t.Fatalf("after the event was written again: %+v, %v; want suspended", s, err)
	}
}

// TestReceiptKeepsSlotSpentAtCommit: receipts written before use markers
// were locked at put (authz/<id>/spent/<n>) are honoured: a slot whose
// marker is gone but whose receipt is listed stays taken, and its use
// spent. The authorization has two uses, both stamped, each given the
// receipt finish used to write; slot 1 is then erased entirely (marker and
// receipt) and slot 2 loses its marker, so the check sees one use left; the
// commit takes slot 3, above the receipt, never slot 2, and after it the
// authorization is used up.
func TestReceiptKeepsSlotSpentAtCommit(t *testing.T) {
	ctx := context.Background()
	e, root := newFsServiceEnv(t)
	g, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", MaxUses: 2, GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	p := "authz/" + g.ID + "/"
	for n := 1; n <= 2; n++ {
		if err := stampWith(ctx, e.svc, e.sealID, g.ID); err != nil {
			t.Fatal(err)
		}
		u, err := e.svc.Registry.UseOf(ctx, g.ID, n)
		if err != nil {
			t.Fatal(err)
		}
		receipt := fmt.Sprintf(`{"n": %d, "document_id": %q}`, n, u.DocumentID)
		if _, err := archive.PutRetained(ctx, e.store, fmt.Sprintf("%sspent/%04d.json", p, n), []byte(receipt), u.RetainUntil); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"use/0001.json", "spent/0001.json", "use/0002.json"} {
		rmObject(t, root, p+k)
	}
	st, err := e.svc.Registry.Authorization(ctx, g.ID)
	if err != nil || st.Remaining != 1 || len(st.Uses) != 1 || st.Uses[0].N != 2 || !st.Uses[0].MarkerMissing {
		t.Fatalf("after the damage: %+v, %v; want slot 2 spent by its receipt, one use left", st, err)
	}
	if err := stampWith(ctx, e.svc, e.sealID, g.ID); err != nil {
		t.Fatalf("stamping the use left: %v", err)
	}
	if _, err := e.store.Head(ctx, p+"use/0002.json"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("slot 2, kept by its receipt, was taken again: %v", err)
	}
	if _, err := e.store.Head(ctx, p+"use/0003.json"); err != nil {
		t.Errorf("the stamping's marker is not in slot 3: %v", err)
	}
	err = stampWith(ctx, e.svc, e.sealID, g.ID)
	var ae *seal.AuthzError
	if !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed {
		t.Fatalf("stamping a third time under two uses: %v, want consumed", err)
	}
}
