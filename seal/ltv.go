package seal

// Long-term validation (ETSI EN 319 142-1 PAdES-LT): AddLTV embeds in the
// PDF's document security store (/DSS) the certificates and the CRL that
// validate its signatures, so that a verifier holding only the trusted
// roots can still validate them after the signer certificate has expired,
// when the CA no longer says anything about it. Verifier.At asks for the
// verdict as of a given time.
//
// How the Verifier uses the store, kept simple on purpose:
//   - the DSS certificates are candidate intermediates, never trust anchors;
//   - the DSS CRLs count only when their signature verifies with a
//     certificate of a chain the trust store built (keys.TrustStore.AddCRL
//     checks); they are used together with the trust store's own CRLs;
//   - certificates are judged at the signing time (the timestamp's, when
//     one proves it), revocations as of At: when At is set, an entry dated
//     after it does not count, whichever CRL lists it (a CRL issued after At
//     is still used); without At every revocation known counts, even one
//     dated ahead of the verifier's clock;
//   - once At is past a certificate's end of validity, its status can only
//     come from data captured earlier: the signature needs a timestamp and
//     a CRL issued at or after the signing time, else it is INDETERMINATE.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/seal/ses"
)

// maxDSSCRLs bounds the CRLs of a document security store a verifier
// checks, since each costs a signature verification.
const maxDSSCRLs = 64

// AddLTV returns one incremental update for the PDF in (size bytes) that
// adds a document security store with, for every signature made with this
// organisation's seals, the signer certificate and its chain to the root,
// the seal maker's certificate, the TSA's certificate when the signature is
// timestamped, and the organisation's newest CRL, also per signature under
// /VRI. The CRL must have been issued at or after the latest signing time,
// so that it speaks for the moment of signing; if the newest one is older,
// or past its next update, a fresh one is issued first. Signatures from
// elsewhere are left alone; a document with none of this organisation's is
// an *InvalidError. Earlier signatures stay valid: a DSS is an allowed change.
func AddLTV(ctx context.Context, reg *Registry, in io.ReaderAt, size int64) ([]byte, error) {
	doc, err := pdf.Open(in, size)
	if err != nil {
		return nil, err
	}
	sigs, err := doc.Signatures()
	if err != nil {
		return nil, err
	}
	roots := keys.NewTrustStore(reg.Roots()...)
	now := reg.now().UTC()
	add := pdf.DSS{VRI: map[string]*pdf.VRI{}}
	var latest time.Time
	for i := range sigs {
		s := &sigs[i]
		certs, signedAt, ok := validationCerts(roots, s)
		if !ok {
			continue
		}
		v := &pdf.VRI{TU: now}
		for _, c := range certs {
			v.Certs = append(v.Certs, c.Raw)
		}
		add.VRI[pdf.VRIKey(s.Contents)] = v
		if signedAt.After(latest) {
			latest = signedAt
		}
	}
	if len(add.VRI) == 0 {
		return nil, &InvalidError{"the document has no signature made with this organisation's seals"}
	}
	crl, err := reg.currentCRL(ctx, latest)
	if err != nil {
		return nil, err
	}
	for _, v := range add.VRI {
		v.CRLs = [][]byte{crl}
	}
	return doc.AppendDSS(add)
}

// validationCerts returns the certificates that validate one signature
// (its signer's chain, the seal maker's, the TSA's) and its signing time,
// the timestamp's when there is one; for a document timestamp, its TSA's
// chain and time. ok is false for a signature that is none of these from
// a certificate under roots.
func validationCerts(roots *keys.TrustStore, s *pdf.Signature) (certs []*smx509.Certificate, signedAt time.Time, ok bool) {
	// The chain is wanted, not a verdict: checked at the certificate's own
	// start of validity, where it is valid whatever happened later.
	chain := func(c *smx509.Certificate, others []*smx509.Certificate, usage keys.Usage) bool {
		res, err := roots.Verify(c, others, c.NotBefore, usage)
		if err != nil {
			return false
		}
		for _, x := range res.Chain {
			if !containsCert(certs, x) {
				certs = append(certs, x)
			}
		}
		return true
	}
	if isDocTimestamp(s) {
		// A document timestamp made here: the TSA's chain, so that the
		// next renewal's store validates it.
		sd, err := cms.Parse(s.Contents)
		if err != nil {
			return nil, time.Time{}, false
		}
		tok, err := tsa.ParseToken(sd.Raw)
		if err != nil || tok.Cert == nil || !chain(tok.Cert, tok.Certificates, keys.UsageTimestamp) {
			return nil, time.Time{}, false
		}
		return certs, tok.GenTime, true
	}
	var (
		signer     *smx509.Certificate
		others     []*smx509.Certificate
		sealDER    []byte
		token      []byte
		claimed    time.Time
		parseError error
	)
	if der, isSES := sesContents(s); isSES {
		sg, err := ses.ParseSignature(der)
		if err != nil {
			return nil, time.Time{}, false
		}
		signer, parseError = smx509.ParseCertificate(sg.Cert)
		sealDER, token, claimed = sg.Seal.Raw, sg.TimeStamp, sg.TimeInfo
	} else {
		sd, err := cms.Parse(s.Contents)
		if err != nil || len(sd.SignerInfos) != 1 {
			return nil, time.Time{}, false
		}
		si := sd.SignerInfos[0]
		signer, parseError = si.SignerCertificate(sd.Certificates)
		others, claimed = sd.Certificates, si.SigningTime
		if raw, ok := sealAttribute(si); ok && len(raw.Values) == 1 {
			sealDER = raw.Values[0].FullBytes
		}
		if attr, ok := si.UnsignedAttribute(oidTimeStampToken); ok && len(attr.Values) == 1 {
			token = attr.Values[0].FullBytes
		}
	}
	if parseError != nil || !chain(signer, others, keys.UsageSign) {
		return nil, time.Time{}, false
	}
	if sl, err := ses.ParseSeal(sealDER); err == nil {
		if maker, err := smx509.ParseCertificate(sl.MakerCert); err == nil {
			chain(maker, others, keys.UsageSealMaker)
		}
	}
	signedAt = claimed
	if signedAt.IsZero() {
		signedAt = s.SigningTime // /M, the claimed time of PAdES
	}
	if tok, err := tsa.ParseToken(token); err == nil {
		chain(tok.Cert, tok.Certificates, keys.UsageTimestamp)
		signedAt = tok.GenTime
	}
	return certs, signedAt, true
}

func containsCert(list []*smx509.Certificate, c *smx509.Certificate) bool {
	for _, x := range list {
		if string(x.Raw) == string(c.Raw) {
			return true
		}
	}
	return false
}

// currentCRL returns the organisation's newest CRL if it was issued at or
// after t and is not past its next update; otherwise it issues a new one.
func (r *Registry) currentCRL(ctx context.Context, t time.Time) ([]byte, error) {
	for attempt := 0; attempt < 2; attempt++ {
		key, err := r.latestCRLKey(ctx)
		if err != nil {
			return nil, err
		}
		if key != "" {
			der, err := getObject(ctx, r.store, key, maxMetaObject)
			if err != nil {
				return nil, err
			}
			rl, err := x509.ParseRevocationList(der)
			if err != nil {
				return nil, fmt.Errorf("organisation CRL %s: %w", key, err)
			}
			if !rl.ThisUpdate.Before(t.Truncate(time.Second)) && r.now().Before(rl.NextUpdate) {
				return der, nil
			}
		}
		if attempt == 0 {
			if err := r.issueCRL(ctx); err != nil {
				return nil, err
			}
		}
	}
	return nil, errors.New("no CRL issued after the signing time could be had")
}

// ltvData is the validation data of a document's security store, with the
// trust stores built from it, one per chain.
type ltvData struct {
	certs  []*smx509.Certificate
	crls   [][]byte
	stores map[string]*keys.TrustStore
	vri    map[string]*pdf.VRI
}

// asOfNow returns a copy of v for one verification, with the validation
// time fixed: At, or the clock's now.
func (v *Verifier) asOfNow(now func() time.Time) *Verifier {
	w := *v
	w.asOf = v.At
	if w.asOf.IsZero() {
		w.asOf = now()
	}
	return &w
}

// loadDSS reads the document security store, if any. An unreadable store
// is no store: the verdict then shows the validation data missing.
func (v *Verifier) loadDSS(doc *pdf.Document) {
	dss, err := doc.DSS()
	if err != nil || dss == nil {
		return
	}
	l := &ltvData{stores: map[string]*keys.TrustStore{}, vri: dss.VRI}
	seen := map[string]bool{}
	addCert := func(der []byte) {
		if !seen[string(der)] {
			seen[string(der)] = true
			if c, err := smx509.ParseCertificate(der); err == nil {
				l.certs = append(l.certs, c)
			}
		}
	}
	addCRL := func(der []byte) {
		if !seen[string(der)] && len(l.crls) < maxDSSCRLs {
			seen[string(der)] = true
			l.crls = append(l.crls, der)
		}
	}
	for _, der := range dss.Certs {
		addCert(der)
	}
	for _, der := range dss.CRLs {
		addCRL(der)
	}
	for _, e := range dss.VRI { // writers should list these above too; not all do
		for _, der := range e.Certs {
			addCert(der)
		}
		for _, der := range e.CRLs {
			addCRL(der)
		}
	}
	v.ltv = l
}

// store returns a trust store anchored at the root of a chain the
// verifier's trust store built, with the chain's intermediates and every
// DSS CRL that one of them (or the root) signed.
func (l *ltvData) store(chain []*smx509.Certificate) *keys.TrustStore {
	var key string
	for _, c := range chain[1:] {
		key += string(c.Raw)
	}
	if ts, ok := l.stores[key]; ok {
		return ts
	}
	ts := keys.NewTrustStore(chain[len(chain)-1])
	ts.AddIntermediates(chain[1 : len(chain)-1]...)
	for _, der := range l.crls {
		_ = ts.AddCRL(der) // a CRL from another issuer, or forged: not used
	}
	l.stores[key] = ts
	return ts
}

// verifyChain is Trust.Verify with the document's validation data: the DSS
// certificates as candidate intermediates, the DSS CRLs next to the trust
// store's, and revocations dated after the validation time left out.
func (v *Verifier) verifyChain(cert *smx509.Certificate, others []*smx509.Certificate, at time.Time, usage keys.Usage) (*keys.ChainResult, error) {
	if v.ltv != nil {
		others = append(others[:len(others):len(others)], v.ltv.certs...)
	}
	res, err := v.Trust.Verify(cert, others, at, usage)
	if err != nil {
		return nil, err
	}
	if v.ltv != nil && len(v.ltv.crls) > 0 && len(res.Chain) > 1 {
		dres, err := v.ltv.store(res.Chain).Verify(cert, nil, at, usage)
		if err != nil {
			return nil, err // a DSS CRL says the chain was revoked before at
		}
		if len(dres.Chain) == len(res.Chain) {
			for i := range res.Status {
				res.Status[i] = mergeStatus(res.Status[i], dres.Status[i])
			}
		}
	}
	// Without At every revocation known counts, as of now.
	res.RevokedAfter = false
	for i, st := range res.Status {
		if st.Revoked && !v.At.IsZero() && st.RevokedAt.After(v.At) {
			st.Revoked, st.RevokedAt, st.Reason = false, time.Time{}, 0
			res.Status[i] = st
		}
		res.RevokedAfter = res.RevokedAfter || st.Revoked
	}
	return res, nil
}

// mergeStatus combines what two sets of CRLs say about one certificate: the
// newest CRL, the earliest revocation.
func mergeStatus(a, b keys.RevocationStatus) keys.RevocationStatus {
	if b.CRLAvailable && (!a.CRLAvailable || b.CRLThisUpdate.After(a.CRLThisUpdate)) {
		a.CRLNumber, a.CRLThisUpdate, a.CRLNextUpdate = b.CRLNumber, b.CRLThisUpdate, b.CRLNextUpdate
	}
	a.CRLAvailable = a.CRLAvailable || b.CRLAvailable
	if b.Revoked && (!a.Revoked || b.RevokedAt.Before(a.RevokedAt)) {
		a.Revoked, a.RevokedAt, a.Reason = true, b.RevokedAt, b.Reason
	}
	return a
}

// validationTime is the time the verdict is for: At, else now.
func (v *Verifier) validationTime() time.Time {
	switch {
	case !v.asOf.IsZero():
		return v.asOf
	case !v.At.IsZero():
		return v.At
	case v.Now != nil:
		return v.Now()
	}
	return time.Now()
}

// longTermProblem says why a chain that was valid at signedAt cannot be
// relied on at the validation time, or "" when it can: a certificate of the
// chain has expired by then, and either no timestamp proves the signature
// was made while it was valid, or no CRL issued at or after the signing
// time says it was not revoked then.
func (v *Verifier) longTermProblem(res *keys.ChainResult, signedAt time.Time, proven bool) string {
	asOf := v.validationTime()
	for i, c := range res.Chain[:len(res.Chain)-1] {
		if !asOf.After(c.NotAfter) {
			continue
		}
		expired := fmt.Sprintf("%q expired at %s, before the validation time %s", c.Subject.CommonName,
			c.NotAfter.UTC().Format(time.RFC3339), asOf.UTC().Format(time.RFC3339))
		st := res.Status[i]
		switch {
		case !proven:
			return expired + ", and no timestamp proves the signature was made while it was valid"
		case !st.CRLAvailable:
			return expired + ", and no CRL (in the document security store or the trust store) shows it was not revoked at signing time"
		case st.CRLThisUpdate.Before(signedAt.Truncate(time.Second)):
			return fmt.Sprintf("%s, and the newest CRL, of %s, predates the signing time %s", expired,
				st.CRLThisUpdate.UTC().Format(time.RFC3339), signedAt.UTC().Format(time.RFC3339))
		}
	}
	return ""
}

// checkLTV reports the validation data the document security store holds
// for signature s.
func (v *Verifier) checkLTV(c sigCheck, s *pdf.Signature) {
	if v.ltv == nil {
		return
	}
	if e := v.ltv.vri[pdf.VRIKey(s.Contents)]; e != nil {
		c.add("validation data", Pass, fmt.Sprintf("the document security store holds %d certificate(s) and %d CRL(s) for this signature", len(e.Certs), len(e.CRLs)))
		return
	}
	c.add("validation data", Pass, fmt.Sprintf("the document security store holds %d certificate(s) and %d CRL(s), none listed for this signature", len(v.ltv.certs), len(v.ltv.crls)))
}

// appended reads the first n bytes of a followed by b, as the document
// input ‖ update reads before it is written anywhere.
type appended struct {
	a io.ReaderAt
	n int64
	b []byte
}

func (r appended) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("seal: negative offset")
	}
	total := 0
	if off < r.n {
		k := min(int64(len(p)), r.n-off)
		n, err := r.a.ReadAt(p[:k], off)
		total += n
		if int64(n) < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		p, off = p[k:], off+k
	}
	if len(p) == 0 {
		return total, nil
	}
	i := off - r.n
	if i >= int64(len(r.b)) {
		return total, io.EOF
	}
	n := copy(p, r.b[i:])
	total += n
	if n < len(p) {
		return total, io.EOF
	}
	return total, nil
}
