package seal

import (
	"context"
	"fmt"
	"strings"

	"eseal/archive"
)

// TrustVersion names the state, other than a document's own bytes and the
// clock, that verifying a document made here depends on: the organisation's
// newest CRL (which also lists certificates revoked on their own) and the
// status history of every seal. Status events and CRLs are only ever added,
// never rewritten, so their count and newest name change whenever a seal is
// suspended, resumed or revoked or a certificate is revoked, on any replica.
// A verification cache keys its reports with it (api/verifycache.go).
func (r *Registry) TrustVersion(ctx context.Context) (string, error) {
	crl, err := r.latestCRLKey(ctx)
	if err != nil {
		return "", err
	}
	events := 0
	err = r.store.List(ctx, sealPrefix, func(o archive.ObjectInfo) error {
		if strings.Contains(o.Key, "/status/") {
			events++
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s;status=%d", crl, events), nil
}
