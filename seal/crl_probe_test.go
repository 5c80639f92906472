package seal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"eseal/archive/fs"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// TestNewCRLSeenAtOnceWithoutListing: a replica that knows the newest CRL
// checks for a newer one with one HEAD per stamping, not a listing of
// every CRL; a CRL another replica publishes — here revoking the seal's
// signer certificate, which changes nothing else — stops its next
// stamping with the seal.
func TestNewCRLSeenAtOnceWithoutListing(t *testing.T) {
	ctx := context.Background()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := newWriteLog(store)
	e := newServiceEnvOn(t, "items: {}\n", clock, w)
	countedStamping(t, e, w, "")
	_, reads := countedStamping(t, e, w, "")
	var crl []string
	for _, r := range reads {
		if strings.Contains(r, "pki/crl/") {
			crl = append(crl, r)
		}
	}
	if len(crl) != 1 || !strings.HasPrefix(crl[0], "head ") {
		t.Errorf("a stamping's reads of the CRLs: %v, want one HEAD", crl)
	}

	other := replica(t, e, store, clock, "node-2")
	if err := other.Registry.RevokeSignerCertificate(ctx, e.sealID, "keyCompromise", "test"); err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = e.svc.Stamp(ctx, stampRequest(e.sealID, a.ID)); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a stamping with a signer certificate revoked on another replica: %v, want refused as revoked", err)
	}
}
