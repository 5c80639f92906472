package keys

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Usage is the purpose a certificate is validated for.
type Usage int

// Usages accepted by TrustStore.Verify.
const (
	// UsageSign: signing documents (a seal's stamping key). The leaf needs key
	// usage digitalSignature or contentCommitment (nonRepudiation).
	UsageSign Usage = iota + 1
	// UsageSealMaker: signing SESeal objects. The leaf needs key usage
	// digitalSignature.
	UsageSealMaker
	// UsageTimestamp: signing RFC 3161 time-stamp tokens. The leaf needs the
	// extended key usage timeStamping (and digitalSignature if it has a key
	// usage extension).
	UsageTimestamp
)

// String returns the usage's name.
func (u Usage) String() string {
	switch u {
	case UsageSign:
		return "sign"
	case UsageSealMaker:
		return "seal-maker"
	case UsageTimestamp:
		return "timestamp"
	}
	return fmt.Sprintf("Usage(%d)", int(u))
}

// Bounds on chain building, so that certificates supplied by an attacker
// (for example inside a CMS signature) cannot make verification expensive.
const (
	maxChainLength     = 8
	maxSignatureChecks = 100
)

// RevocationStatus is what the trust store's CRLs say about one certificate.
type RevocationStatus struct {
	// CRLAvailable is true when at least one CRL from the certificate's issuer
	// (verified with the issuer's key) is known. When false, Revoked=false
	// means "unknown", not "not revoked". Always false for the trust anchor.
	CRLAvailable bool
	// CRLNumber, CRLThisUpdate and CRLNextUpdate describe the newest such CRL
	// (the highest CRL number), so that a caller can judge its freshness.
	CRLNumber                    *big.Int
	CRLThisUpdate, CRLNextUpdate time.Time
	// Revoked is true when a CRL lists the certificate. Verify returns an
	// error for a revocation at or before the time in question, so in a
	// successful result Revoked means revoked after that time.
	Revoked   bool
	RevokedAt time.Time
	// Reason is the RFC 5280 CRLReason code of the entry (0 if absent).
	Reason int
}

// ChainResult is a verified certificate chain.
type ChainResult struct {
	// Chain runs from the leaf (index 0) to the trusted root (last).
	Chain []*smx509.Certificate
	// Status[i] is the revocation status of Chain[i].
	Status []RevocationStatus
	// RevokedAfter is true when some certificate of the chain was revoked,
	// but only after the time the chain was verified at. Whether that matters
	// (for example for a signature without a trusted timestamp) is the
	// caller's decision.
	RevokedAfter bool
}

// Leaf returns the revocation status of the leaf certificate.
func (r *ChainResult) Leaf() RevocationStatus {
	if r == nil || len(r.Status) == 0 {
		return RevocationStatus{}
	}
	return r.Status[0]
}

// trustedCRL is a CRL whose signature was verified when it was added.
type trustedCRL struct {
	list *x509.RevocationList
	// issuerSPKI is the key that verified the CRL; a chain whose issuer has
	// another key (same name) re-checks the signature.
	issuerSPKI []byte
	revoked    map[string]x509.RevocationListEntry // by serial, hex
}

// TrustStore holds trusted roots, known intermediates and CRLs, and verifies
// certificate chains against them. It is safe for concurrent use.
type TrustStore struct {
	mu            sync.RWMutex
	roots         []*smx509.Certificate
	intermediates []*smx509.Certificate
	crls          map[string][]*trustedCRL // by issuer raw subject
}

// NewTrustStore returns a trust store whose trust anchors are roots.
func NewTrustStore(roots ...*smx509.Certificate) *TrustStore {
	ts := &TrustStore{crls: make(map[string][]*trustedCRL)}
	for _, r := range roots {
		if r != nil && !containsCert(ts.roots, r) {
			ts.roots = append(ts.roots, r)
		}
	}
	return ts
}

// AddIntermediates adds CA certificates that may be used to build chains.
// They are not trusted by themselves: a chain must still end at a root.
func (ts *TrustStore) AddIntermediates(certs ...*smx509.Certificate) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, c := range certs {
		if c != nil && !containsCert(ts.intermediates, c) && !containsCert(ts.roots, c) {
			ts.intermediates = append(ts.intermediates, c)
		}
	}
}

var oidSignatureSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}

// AddCRL adds a CRL (DER, or PEM "X509 CRL"). Its issuer must be a root or
// an intermediate of the store that chains to a root, and its signature
// must verify with that issuer's key, else a *CRLError is returned. Add the
// intermediates before their CRLs.
func (ts *TrustStore) AddCRL(der []byte) error {
	if block, _ := pem.Decode(der); block != nil && block.Type == "X509 CRL" {
		der = block.Bytes
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return &CRLError{Reason: CRLMalformed, Err: err}
	}
	var outer struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(rl.Raw, &outer); err != nil {
		return &CRLError{Reason: CRLMalformed, Err: err}
	}
	if !outer.Algorithm.Algorithm.Equal(oidSignatureSM2WithSM3) {
		return &CRLError{Reason: CRLBadSignature, Detail: fmt.Sprintf("signature algorithm %v is not SM2-with-SM3", outer.Algorithm.Algorithm)}
	}

	ts.mu.Lock()
	defer ts.mu.Unlock()
	var named []*smx509.Certificate
	for _, c := range ts.roots {
		if bytes.Equal(c.RawSubject, rl.RawIssuer) {
			named = append(named, c)
		}
	}
	for _, c := range ts.intermediates {
		if bytes.Equal(c.RawSubject, rl.RawIssuer) {
			if chains, _ := ts.buildChains(c, nil); len(chains) > 0 {
				named = append(named, c)
			}
		}
	}
	if len(named) == 0 {
		return &CRLError{Reason: CRLUnknownIssuer, Detail: fmt.Sprintf("issuer %q", rl.Issuer.String())}
	}
	for _, issuer := range named {
		if !crlSigner(issuer) {
			continue
		}
		if issuer.CheckSignature(smx509.SM2WithSM3, rl.RawTBSRevocationList, rl.Signature) != nil {
			continue
		}
		t := &trustedCRL{list: rl, issuerSPKI: issuer.RawSubjectPublicKeyInfo, revoked: make(map[string]x509.RevocationListEntry)}
		for _, e := range rl.RevokedCertificateEntries {
			k := e.SerialNumber.Text(16)
			if prev, ok := t.revoked[k]; ok && prev.RevocationTime.Before(e.RevocationTime) {
				continue // keep the earliest of duplicate entries
			}
			t.revoked[k] = e
		}
		key := string(rl.RawIssuer)
		ts.crls[key] = append(ts.crls[key], t)
		return nil
	}
	return &CRLError{Reason: CRLBadSignature, Detail: fmt.Sprintf("no trusted certificate named %q may sign it or verifies it", rl.Issuer.String())}
}

// crlSigner reports whether c may sign CRLs.
func crlSigner(c *smx509.Certificate) bool {
	return c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageCRLSign != 0
}

// Verify builds a chain from leaf to a trusted root, using others (for
// example the certificates carried in a signature) and the store's
// intermediates, and checks it as of at (time.Now() if at is zero): every
// certificate's validity period, issuer constraints, the leaf's key usage
// for usage, and revocation by the known CRLs.
//
// A failure is a *CertificateError. A revocation at or before at is an
// error with ReasonRevoked; a revocation after at is not an error but is
// reported in the result (RevokedAfter). When several chains exist, the
// first that passes every check is returned, else the first chain's error.
func (ts *TrustStore) Verify(leaf *smx509.Certificate, others []*smx509.Certificate, at time.Time, usage Usage) (*ChainResult, error) {
	if leaf == nil {
		return nil, &CertificateError{Reason: ReasonMalformed, Detail: "no certificate"}
	}
	if at.IsZero() {
		at = time.Now()
	}
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	chains, err := ts.buildChains(leaf, others)
	if len(chains) == 0 {
		return nil, err
	}
	var firstErr error
	for _, chain := range chains {
		res, err := ts.checkChain(chain, at, usage)
		if err == nil {
			return res, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// buildChains returns every chain (up to the bounds) from leaf to a root in
// which each certificate's signature verifies with the next one's key. With
// no chain it returns the most telling error met on the way. Time is not
// considered here. The caller holds ts.mu.
func (ts *TrustStore) buildChains(leaf *smx509.Certificate, others []*smx509.Certificate) ([][]*smx509.Certificate, error) {
	if containsCert(ts.roots, leaf) {
		return [][]*smx509.Certificate{{leaf}}, nil
	}
	var pool []*smx509.Certificate
	for _, list := range [][]*smx509.Certificate{others, ts.intermediates} {
		for _, c := range list {
			if c != nil && !containsCert(pool, c) && !containsCert(ts.roots, c) {
				pool = append(pool, c)
			}
		}
	}

	var (
		chains    [][]*smx509.Certificate
		best      *CertificateError
		sigChecks int
	)
	note := func(e *CertificateError) {
		if best == nil || rank(e.Reason) > rank(best.Reason) {
			best = e
		}
	}
	var walk func(chain []*smx509.Certificate)
	walk = func(chain []*smx509.Certificate) {
		cur := chain[len(chain)-1]
		found := false
		for gi, group := range [2][]*smx509.Certificate{ts.roots, pool} {
			isRoot := gi == 0
			for _, cand := range group {
				if !mayHaveIssued(cand, cur) || containsCert(chain, cand) {
					continue
				}
				found = true
				if sigChecks >= maxSignatureChecks {
					note(&CertificateError{Cert: leaf, Reason: ReasonUnknownAuthority, Detail: "too many candidate issuers"})
					return
				}
				sigChecks++
				if err := cur.CheckSignatureFrom(cand); err != nil {
					var cv x509.ConstraintViolationError
					if errors.As(err, &cv) {
						note(&CertificateError{Cert: cand, Reason: ReasonConstraintViolation, Detail: "issuer is not a CA allowed to sign certificates", Err: err})
					} else {
						note(&CertificateError{Cert: cur, Reason: ReasonBadSignature, Detail: fmt.Sprintf("not signed by %q", cand.Subject.CommonName), Err: err})
					}
					continue
				}
				next := append(chain[:len(chain):len(chain)], cand)
				if isRoot {
					chains = append(chains, next)
				} else if len(next) < maxChainLength {
					walk(next)
				}
			}
		}
		if !found {
			note(&CertificateError{Cert: cur, Reason: ReasonUnknownAuthority, Detail: fmt.Sprintf("issuer %q not found among trusted roots and intermediates", cur.Issuer.CommonName)})
		}
	}
	if len(ts.roots) == 0 {
		return nil, &CertificateError{Cert: leaf, Reason: ReasonUnknownAuthority, Detail: "trust store has no roots"}
	}
	walk([]*smx509.Certificate{leaf})
	if len(chains) > 0 {
		return chains, nil
	}
	if best == nil {
		best = &CertificateError{Cert: leaf, Reason: ReasonUnknownAuthority}
	}
	return nil, best
}

// rank orders chain-building errors by how much they tell: a wrong
// signature or constraint beats "no issuer found".
func rank(r CertReason) int {
	switch r {
	case ReasonConstraintViolation:
		return 3
	case ReasonBadSignature:
		return 2
	}
	return 1
}

// mayHaveIssued reports whether issuer's name (and key identifier, when
// both certificates carry one) matches child's issuer.
func mayHaveIssued(issuer, child *smx509.Certificate) bool {
	if !bytes.Equal(issuer.RawSubject, child.RawIssuer) {
		return false
	}
	if len(child.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(child.AuthorityKeyId, issuer.SubjectKeyId) {
		return false
	}
	return true
}

// checkChain checks a signature-verified chain at time at. The caller holds ts.mu.
func (ts *TrustStore) checkChain(chain []*smx509.Certificate, at time.Time, usage Usage) (*ChainResult, error) {
	for _, c := range chain {
		if len(c.UnhandledCriticalExtensions) > 0 {
			return nil, &CertificateError{Cert: c, Reason: ReasonMalformed, Detail: fmt.Sprintf("unhandled critical extension %v", c.UnhandledCriticalExtensions[0])}
		}
		if at.Before(c.NotBefore) {
			return nil, &CertificateError{Cert: c, Reason: ReasonNotYetValid,
				Detail: fmt.Sprintf("valid from %s, checked at %s", c.NotBefore.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))}
		}
		if at.After(c.NotAfter) {
			return nil, &CertificateError{Cert: c, Reason: ReasonExpired,
				Detail: fmt.Sprintf("valid until %s, checked at %s", c.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))}
		}
	}
	for i := 1; i < len(chain); i++ {
		c := chain[i]
		if c.BasicConstraintsValid && c.MaxPathLen >= 0 && i-1 > c.MaxPathLen {
			return nil, &CertificateError{Cert: c, Reason: ReasonConstraintViolation, Detail: fmt.Sprintf("path length constraint %d exceeded", c.MaxPathLen)}
		}
	}
	if err := checkUsage(chain[0], usage); err != nil {
		return nil, err
	}
	res := &ChainResult{Chain: chain, Status: make([]RevocationStatus, len(chain))}
	for i := 0; i+1 < len(chain); i++ {
		st := ts.revocation(chain[i], chain[i+1])
		if st.Revoked && !st.RevokedAt.After(at) {
			return nil, &CertificateError{Cert: chain[i], Reason: ReasonRevoked, RevokedAt: st.RevokedAt, RevocationReason: st.Reason,
				Detail: fmt.Sprintf("revoked at %s, checked at %s", st.RevokedAt.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))}
		}
		if st.Revoked {
			res.RevokedAfter = true
		}
		res.Status[i] = st
	}
	return res, nil
}

// revocation looks c up in the CRLs of issuer. The caller holds ts.mu.
func (ts *TrustStore) revocation(c, issuer *smx509.Certificate) RevocationStatus {
	var st RevocationStatus
	for _, crl := range ts.crls[string(issuer.RawSubject)] {
		if !bytes.Equal(crl.issuerSPKI, issuer.RawSubjectPublicKeyInfo) {
			// Same name, another key: only a CRL this key signed counts.
			if !crlSigner(issuer) || issuer.CheckSignature(smx509.SM2WithSM3, crl.list.RawTBSRevocationList, crl.list.Signature) != nil {
				continue
			}
		}
		if !st.CRLAvailable || newerCRL(crl.list, st.CRLNumber, st.CRLThisUpdate) {
			st.CRLNumber = crl.list.Number
			st.CRLThisUpdate = crl.list.ThisUpdate
			st.CRLNextUpdate = crl.list.NextUpdate
		}
		st.CRLAvailable = true
		if e, ok := crl.revoked[c.SerialNumber.Text(16)]; ok {
			if !st.Revoked || e.RevocationTime.Before(st.RevokedAt) {
				st.Revoked = true
				st.RevokedAt = e.RevocationTime
				st.Reason = e.ReasonCode
			}
		}
	}
	return st
}

// newerCRL reports whether rl is newer than a CRL with the given number and
// thisUpdate: by CRL number when both have one, else by thisUpdate.
func newerCRL(rl *x509.RevocationList, number *big.Int, thisUpdate time.Time) bool {
	if rl.Number != nil && number != nil {
		return rl.Number.Cmp(number) > 0
	}
	return rl.ThisUpdate.After(thisUpdate)
}

// checkUsage checks that leaf may be used for usage.
func checkUsage(leaf *smx509.Certificate, usage Usage) error {
	ku := leaf.KeyUsage
	hasKU := func(bits x509.KeyUsage) bool { return ku == 0 || ku&bits != 0 }
	tsaOnly := len(leaf.ExtKeyUsage) == 1 && leaf.ExtKeyUsage[0] == x509.ExtKeyUsageTimeStamping && len(leaf.UnknownExtKeyUsage) == 0
	bad := func(detail string) error {
		return &CertificateError{Cert: leaf, Reason: ReasonBadKeyUsage, Detail: fmt.Sprintf("%s: %s", usage, detail)}
	}
	switch usage {
	case UsageSign:
		if !hasKU(x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment) {
			return bad("key usage lacks digitalSignature and nonRepudiation")
		}
		if tsaOnly {
			return bad("a time-stamping certificate may not sign documents")
		}
	case UsageSealMaker:
		if !hasKU(x509.KeyUsageDigitalSignature) {
			return bad("key usage lacks digitalSignature")
		}
		if tsaOnly {
			return bad("a time-stamping certificate may not sign seals")
		}
	case UsageTimestamp:
		if !hasKU(x509.KeyUsageDigitalSignature) {
			return bad("key usage lacks digitalSignature")
		}
		ok := false
		for _, e := range leaf.ExtKeyUsage {
			ok = ok || e == x509.ExtKeyUsageTimeStamping
		}
		if !ok {
			return bad("extended key usage lacks timeStamping")
		}
	default:
		return bad("unknown usage")
	}
	return nil
}

func containsCert(list []*smx509.Certificate, c *smx509.Certificate) bool {
	for _, x := range list {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}
