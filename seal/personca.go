package seal

// Certificate authorities for responsible persons. A deployment may trust the
// CAs that issue its persons' SM2 certificates (a province's CA, the CA
// behind the UKeys its staff carry). While none is trusted, enrolment pins a
// person's certificate whoever issued it (self-signed included). Once one is,
// a certificate is enrolled only if it chains to a trusted CA, is valid and
// is not revoked by the newest CRL of its issuer — and the same is checked
// again at each approval, so a person whose certificate the CA revokes can
// no longer approve.

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/keys"
)

const (
	personCAPrefix  = "pki/person-ca/"
	personCRLPrefix = "pki/person-crl/"
	// maxPersonCRL bounds a stored CRL of a persons' CA.
	maxPersonCRL = 8 << 20
)

// Audit actions for the persons' CAs.
const (
	PersonCAAdded  audit.Action = "person-ca.added"
	PersonCRLAdded audit.Action = "person-ca.crl-added"
)

// PersonCA is a trusted CA for persons' certificates, with the newest CRL
// known from it.
type PersonCA struct {
	// SM3 is the SM3 of the CA certificate's DER: its id.
	SM3      string    `json:"sm3"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	// CRL describes the newest CRL stored for this CA; nil when none is, and
	// then no certificate it issued can be enrolled or approve.
	CRL *PersonCRL `json:"crl,omitempty"`
}

// PersonCRL describes one CRL of a persons' CA.
type PersonCRL struct {
	Issuer     string    `json:"issuer"`
	Number     string    `json:"number,omitempty"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update,omitzero"`
	Revoked    int       `json:"revoked"`
}

// PersonCertUntrusted is the reason of a PersonError for a certificate that
// does not chain to a trusted persons' CA, is outside its validity, is
// revoked, or whose revocation cannot be known (no CRL, or a stale one).
const PersonCertUntrusted PersonReason = "certificate-untrusted"

// personTrust is the trust store built from the stored CAs and CRLs, cached
// for as long as the listing of both prefixes does not change.
type personTrust struct {
	mu      sync.Mutex
	listing string
	ts      *keys.TrustStore
	cas     []*smx509.Certificate
}

// AddPersonCA trusts a CA (PEM, one certificate with an SM2 key, a CA by its
// basic constraints) for persons' certificates. Adding a trusted CA again
// changes nothing and returns it.
func (r *Registry) AddPersonCA(ctx context.Context, pemBytes []byte, by string) (*PersonCA, error) {
	certs, err := keys.ParseCertificatesPEM(pemBytes)
	if err != nil {
		return nil, &InvalidError{"CA certificate: " + err.Error()}
	}
	if len(certs) != 1 {
		return nil, &InvalidError{fmt.Sprintf("CA certificate: want one certificate, found %d", len(certs))}
	}
	c := certs[0]
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, &InvalidError{"CA certificate: its key is not SM2"}
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return nil, &InvalidError{"CA certificate: " + c.Subject.String() + " is not a CA (basic constraints)"}
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, &InvalidError{"CA certificate: " + c.Subject.String() + " may not sign certificates (key usage)"}
	}
	sum := sm3.Sum(c.Raw)
	id := hex.EncodeToString(sum[:])
	switch err := putObject(ctx, r.store, personCAPrefix+id+".pem", certPEM(c)); {
	case errors.Is(err, archive.ErrExists):
	case err != nil:
		return nil, err
	default:
		if err := r.LogChange(ctx, AuditEvent{Action: PersonCAAdded, Subject: id, Actor: by, Details: map[string]string{"subject": c.Subject.String()}},
			personCAPrefix+id+".pem"); err != nil {
			return nil, err
		}
	}
	cas, err := r.PersonCAs(ctx)
	if err != nil {
		return nil, err
	}
	for _, ca := range cas {
		if ca.SM3 == id {
			return &ca, nil
		}
	}
	return nil, fmt.Errorf("persons' CA %s: not found after adding it", id)
}

// AddPersonCRL stores a CRL (DER or PEM) of a trusted persons' CA after
// checking its signature. The newest CRL of each CA (by CRL number) decides.
func (r *Registry) AddPersonCRL(ctx context.Context, der []byte, by string) (*PersonCRL, error) {
	if len(der) == 0 || len(der) > maxPersonCRL {
		return nil, &InvalidError{fmt.Sprintf("CRL: 1 byte to %d MiB expected", maxPersonCRL>>20)}
	}
	ts, cas, err := r.personTrustStore(ctx)
	if err != nil {
		return nil, err
	}
	if len(cas) == 0 {
		return nil, &InvalidError{"CRL: no CA for persons is trusted yet; add the CA first (eseal person ca add)"}
	}
	if err := ts.AddCRL(der); err != nil {
		return nil, &InvalidError{"CRL: " + err.Error()}
	}
	rl, err := parseCRL(der)
	if err != nil {
		return nil, &InvalidError{"CRL: " + err.Error()}
	}
	sum := sm3.Sum(rl.Raw)
	id := hex.EncodeToString(sum[:])
	switch err := putObject(ctx, r.store, personCRLPrefix+id+".der", rl.Raw); {
	case errors.Is(err, archive.ErrExists):
	case err != nil:
		return nil, err
	default:
		if err := r.LogChange(ctx, AuditEvent{Action: PersonCRLAdded, Subject: id, Actor: by, Details: map[string]string{
			"issuer": rl.Issuer.String(), "number": numberText(rl.Number), "this_update": rl.ThisUpdate.UTC().Format(time.RFC3339)}},
			personCRLPrefix+id+".der"); err != nil {
			return nil, err
		}
	}
	return crlInfo(rl), nil
}

// PersonCAs lists the trusted persons' CAs with the newest CRL of each.
func (r *Registry) PersonCAs(ctx context.Context) ([]PersonCA, error) {
	_, cas, err := r.personTrustStore(ctx)
	if err != nil {
		return nil, err
	}
	crls, err := r.personCRLs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PersonCA, 0, len(cas))
	for _, c := range cas {
		sum := sm3.Sum(c.Raw)
		ca := PersonCA{SM3: hex.EncodeToString(sum[:]), Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC()}
		var newest *x509.RevocationList
		for _, rl := range crls {
			if string(rl.RawIssuer) != string(c.RawSubject) || c.CheckSignature(smx509.SM2WithSM3, rl.RawTBSRevocationList, rl.Signature) != nil {
				continue
			}
			if newest == nil || newerList(rl, newest) {
				newest = rl
			}
		}
		if newest != nil {
			ca.CRL = crlInfo(newest)
		}
		out = append(out, ca)
	}
	return out, nil
}

// checkPersonCert checks a person's certificate against the trusted persons'
// CAs at time at; with none trusted every certificate passes (it is pinned).
func (r *Registry) checkPersonCert(ctx context.Context, personID string, cert *smx509.Certificate, at time.Time) error {
	ts, cas, err := r.personTrustStore(ctx)
	if err != nil {
		return err
	}
	if len(cas) == 0 {
		return nil
	}
	untrusted := func(detail string) error {
		return &PersonError{ID: personID, Reason: PersonCertUntrusted, Detail: detail}
	}
	res, err := ts.Verify(cert, nil, at, keys.UsageSign)
	if err != nil {
		return untrusted(fmt.Sprintf("certificate %s: %v (CAs for persons are configured: eseal person ca list)", cert.Subject, err))
	}
	if len(res.Chain) < 2 {
		return untrusted("certificate " + cert.Subject.String() + " is itself a trusted CA, not a person's certificate")
	}
	leaf := res.Leaf()
	issuer := res.Chain[1].Subject.String()
	fetched := ""
	if !leaf.CRLAvailable || !leaf.CRLNextUpdate.IsZero() && at.After(leaf.CRLNextUpdate) {
		// Fetch the current CRL from where the certificate says it is,
		// then check again with what is stored now — also when another
		// check fetched it meanwhile (this one then tries no fetch).
		if r.crls != nil {
			_, fetched = r.fetchCRL(ctx, res.Chain[1], cert)
			if ts, _, err = r.personTrustStore(ctx); err != nil {
				return err
			}
			if res, err = ts.Verify(cert, nil, at, keys.UsageSign); err != nil {
				return untrusted(fmt.Sprintf("certificate %s: %v", cert.Subject, err))
			}
			leaf = res.Leaf()
		}
		if fetched != "" {
			fetched = "; " + fetched
		}
	}
	switch {
	case !leaf.CRLAvailable:
		return untrusted("no CRL of " + issuer + " is known, so the certificate's revocation cannot be checked: add its current CRL (eseal person ca crl FILE, or eseal person ca fetch)" + fetched)
	case !leaf.CRLNextUpdate.IsZero() && at.After(leaf.CRLNextUpdate):
		return untrusted(fmt.Sprintf("the newest CRL of %s was due to be replaced at %s: add its current CRL (eseal person ca crl FILE, or eseal person ca fetch)%s", issuer, leaf.CRLNextUpdate.UTC().Format(time.RFC3339), fetched))
	case leaf.Revoked:
		// Verify refuses a revocation at or before at; one after at is
		// still a revoked certificate for every later approval.
		return untrusted(fmt.Sprintf("certificate %s was revoked by %s at %s", cert.Subject, issuer, leaf.RevokedAt.UTC().Format(time.RFC3339)))
	}
	return nil
}

// personTrustStore returns the trust store of the persons' CAs and their
// CRLs, rebuilt only when what is stored under either prefix changed.
func (r *Registry) personTrustStore(ctx context.Context) (*keys.TrustStore, []*smx509.Certificate, error) {
	var listing strings.Builder
	for _, prefix := range []string{personCAPrefix, personCRLPrefix} {
		err := r.store.List(ctx, prefix, func(o archive.ObjectInfo) error {
			listing.WriteString(o.Key)
			listing.WriteByte('\n')
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	pt := &r.personTrust
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.ts != nil && pt.listing == listing.String() {
		return pt.ts, pt.cas, nil
	}
	var cas []*smx509.Certificate
	err := r.store.List(ctx, personCAPrefix, func(o archive.ObjectInfo) error {
		c, err := getCert(ctx, r.store, o.Key)
		if err != nil {
			return err
		}
		cas = append(cas, c)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	ts := keys.NewTrustStore(cas...)
	crls, err := r.personCRLs(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, rl := range crls {
		// Each was checked when it was added; one whose CA is gone is ignored.
		_ = ts.AddCRL(rl.Raw)
	}
	pt.listing, pt.ts, pt.cas = listing.String(), ts, cas
	return ts, cas, nil
}

// personCRLs reads every stored CRL of the persons' CAs.
func (r *Registry) personCRLs(ctx context.Context) ([]*x509.RevocationList, error) {
	var out []*x509.RevocationList
	err := r.store.List(ctx, personCRLPrefix, func(o archive.ObjectInfo) error {
		b, err := getObject(ctx, r.store, o.Key, maxPersonCRL)
		if err != nil {
			return err
		}
		rl, err := x509.ParseRevocationList(b)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		out = append(out, rl)
		return nil
	})
	return out, err
}

// parseCRL reads a CRL in DER or PEM ("X509 CRL").
func parseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "X509 CRL" {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

func crlInfo(rl *x509.RevocationList) *PersonCRL {
	return &PersonCRL{Issuer: rl.Issuer.String(), Number: numberText(rl.Number), ThisUpdate: rl.ThisUpdate.UTC(),
		NextUpdate: rl.NextUpdate.UTC(), Revoked: len(rl.RevokedCertificateEntries)}
}

// newerList reports whether a is newer than b: by CRL number when both have
// one, else by thisUpdate.
func newerList(a, b *x509.RevocationList) bool {
	if a.Number != nil && b.Number != nil {
		return a.Number.Cmp(b.Number) > 0
	}
	return a.ThisUpdate.After(b.ThisUpdate)
}

func numberText(n *big.Int) string {
	if n == nil {
		return ""
	}
	return n.String()
}
