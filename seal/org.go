package seal

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/keys/tsa"
	"eseal/seal/ses"
)

// OrgKey is the object whose presence means the store holds an organisation.
const OrgKey = "org/org.json"

// Where the organisation PKI lives in the store. Every object is written once.
const (
	orgKey            = OrgKey
	rootCertKey       = "pki/root.crt"
	rootKeyKey        = "pki/root.key"
	makerCertKey      = "pki/maker.crt"
	makerKeyKey       = "pki/maker.key"
	auditCertKey      = "pki/audit.crt"
	auditKeyKey       = "pki/audit.key"
	tsaCertKey        = "pki/tsa.crt"
	tsaKeyKey         = "pki/tsa.key"
	crlPrefix         = "pki/crl/"
	revokedCertPrefix = "pki/revoked/"
)

// Validity periods of what the embedded organisation CA issues.
const (
	rootValidity    = 20 * 365 * 24 * time.Hour
	makerValidity   = 10 * 365 * 24 * time.Hour
	DefaultValidity = 5 * 365 * 24 * time.Hour
	crlValidity     = 7 * 24 * time.Hour
)

// RFC 5280 CRL reason codes used here.
const (
	crlReasonKeyCompromise = 1
	crlReasonCessation     = 5
)

// vendorID is the Vid written into the SES_Header of seals made here.
const vendorID = "eseal"

// OrgInfo describes the organisation whose seals the registry keeps.
type OrgInfo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Fonds is the fonds code (全宗号) given at init, the first unit's.
	Fonds string `json:"fonds,omitempty"`
}

// ErrNoOrganisation means the store has not been initialised with `eseal init`.
var ErrNoOrganisation = errors.New("no organisation in this store: run `eseal init` first")

// Org is the organisation's PKI, kept in the store: the root CA, the seal
// maker that signs seals and grants, the key of the audit log's checkpoints,
// the embedded time-stamping authority, and the CRLs the root issues. Its
// keys are wrapped under the key-encryption key. A Registry embeds the Org of
// the seals it keeps; the Org keeps no seals itself, it certifies and signs
// what the Registry asks of it.
type Org struct {
	store archive.Store
	kek   *keys.KEK
	now   func() time.Time

	info OrgInfo
	// publicURL is the service's external base URL, named in the
	// certificates the root issues (certURLs); "" names none.
	publicURL string
	root      *keys.CA
	makerCA   *smx509.Certificate
	makerKey  crypto.Signer

	mu  sync.Mutex
	tsa *tsa.Server
	// trust is the trust store built from the CRL named trustCRL.
	trust    *keys.TrustStore
	trustCRL string
	// lastCRL is the number of the newest CRL this replica has seen
	// (latestCRLKey), 0 before it has listed them.
	lastCRL int
}

func newOrg(store archive.Store, kek *keys.KEK, now func() time.Time, publicURL string) *Org {
	if now == nil {
		now = time.Now
	}
	return &Org{store: store, kek: kek, now: now, publicURL: strings.TrimSuffix(publicURL, "/")}
}

// Where the service publishes its CRL and root certificate (api: public,
// cacheable), named in the certificates it issues.
const (
	CRLPath  = "/pki/crl.der"
	RootPath = "/pki/root.crt"
)

// certURLs are the CRL distribution point and caIssuers URLs of the
// certificates the root issues: none without a public URL.
func (o *Org) certURLs() (crl, issuer []string) {
	if o.publicURL == "" {
		return nil, nil
	}
	return []string{o.publicURL + CRLPath}, []string{o.publicURL + RootPath}
}

// CRL returns the newest CRL the root issued (DER).
func (o *Org) CRL(ctx context.Context) ([]byte, error) {
	key, err := o.latestCRLKey(ctx)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("no CRL issued yet: %w", archive.ErrNotFound)
	}
	return getObject(ctx, o.store, key, maxMetaObject*8)
}

// create makes the organisation PKI in an empty store: a root CA, the seal
// maker's, the audit log's and the TSA's certificates, with keys wrapped
// under the KEK, and an empty CRL. The organisation record is written last,
// so its presence means the PKI is complete.
func (o *Org) create(ctx context.Context, name, fonds string) error {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 128 {
		return &InvalidError{"organisation name must have 1–128 characters"}
	}
	now := o.now().UTC().Truncate(time.Second)

	rootKey, err := keys.GenerateKey()
	if err != nil {
		return err
	}
	root, err := keys.NewRootCA(name, rootKey, now.Add(-time.Hour), now.Add(rootValidity))
	if err != nil {
		return err
	}
	if err := o.putKey(ctx, rootKeyKey, rootKey); err != nil {
		return err
	}
	if err := putObject(ctx, o.store, rootCertKey, certPEM(root.Cert)); err != nil {
		return err
	}
	makerKey, makerCert, err := o.issueOwnKey(ctx, root, keys.KindSealMaker, name+" 电子印章制章者", name, now, makerKeyKey, makerCertKey)
	if err != nil {
		return err
	}
	// The audit log's checkpoints get a key of their own, so a leaked seal
	// maker key cannot rewrite history.
	if _, _, err := o.issueOwnKey(ctx, root, keys.KindSigner, name+" 审计日志", name, now, auditKeyKey, auditCertKey); err != nil {
		return err
	}
	// The embedded RFC 3161 time-stamping authority.
	if _, _, err := o.issueOwnKey(ctx, root, keys.KindTSA, name+" 时间戳服务", name, now, tsaKeyKey, tsaCertKey); err != nil {
		return err
	}
	o.root, o.makerCA, o.makerKey = root, makerCert, makerKey
	if err := o.publishCRL(ctx, nil); err != nil {
		return err
	}
	o.info = OrgInfo{Name: name, Created: now, Fonds: fonds}
	return putJSON(ctx, o.store, orgKey, o.info)
}

// issueOwnKey makes one of the organisation's own keys, certified by the root
// for makerValidity, and stores both under keyKey and certKey.
func (o *Org) issueOwnKey(ctx context.Context, root *keys.CA, kind keys.CertKind, commonName, org string, now time.Time, keyKey, certKey string) (*sm2.PrivateKey, *smx509.Certificate, error) {
	key, err := keys.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	crl, issuer := o.certURLs()
	cert, err := root.Issue(keys.CertRequest{
		Kind: kind, CommonName: commonName, Organisation: org,
		PublicKey: key.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(makerValidity),
		CRLURLs: crl, IssuerURLs: issuer,
	})
	if err != nil {
		return nil, nil, err
	}
	if err := o.putKey(ctx, keyKey, key); err != nil {
		return nil, nil, err
	}
	if err := putObject(ctx, o.store, certKey, certPEM(cert)); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// load reads the organisation record, the root and the seal maker.
func (o *Org) load(ctx context.Context) error {
	if err := getJSON(ctx, o.store, orgKey, &o.info); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return ErrNoOrganisation
		}
		return err
	}
	rootCert, err := getCert(ctx, o.store, rootCertKey)
	if err != nil {
		return err
	}
	rootKey, err := o.getKey(ctx, rootKeyKey)
	if err != nil {
		return err
	}
	o.root = &keys.CA{Cert: rootCert, Key: rootKey}
	if o.makerCA, err = getCert(ctx, o.store, makerCertKey); err != nil {
		return err
	}
	if o.makerKey, err = o.getKey(ctx, makerKeyKey); err != nil {
		return err
	}
	return nil
}

// Info describes the organisation.
func (o *Org) Info() OrgInfo { return o.info }

// AuditSigner returns the key that signs audit-log checkpoints.
func (o *Org) AuditSigner(ctx context.Context) (crypto.Signer, error) {
	return o.getKey(ctx, auditKeyKey)
}

// AuditCertificate returns the certificate of the audit-log checkpoint key.
func (o *Org) AuditCertificate(ctx context.Context) (*smx509.Certificate, error) {
	return getCert(ctx, o.store, auditCertKey)
}

// RegisterSigner signs transfer registers with the audit-log key, and gives
// the chain a receiving archive checks it with (certificate, root), so that
// a package is checkable without eseal.
func (o *Org) RegisterSigner(ctx context.Context) (transfer.SignFunc, [][]byte, error) {
	key, err := o.AuditSigner(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("organisation key: %w", err)
	}
	cert, err := o.AuditCertificate(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("organisation certificate: %w", err)
	}
	chain := [][]byte{cert.Raw, o.root.Cert.Raw}
	return func(msg []byte) ([]byte, error) { return keys.SignSM2(key, msg) }, chain, nil
}

// TSA returns the organisation's embedded time-stamping authority.
func (o *Org) TSA(ctx context.Context) (*tsa.Server, error) {
	o.mu.Lock()
	t := o.tsa
	o.mu.Unlock()
	if t != nil {
		return t, nil
	}
	key, err := o.getKey(ctx, tsaKeyKey)
	if err != nil {
		return nil, err
	}
	cert, err := getCert(ctx, o.store, tsaCertKey)
	if err != nil {
		return nil, err
	}
	t = &tsa.Server{Signer: key, Cert: cert, Chain: []*smx509.Certificate{o.root.Cert}, Policy: OIDTSAPolicy, Now: o.now}
	o.mu.Lock()
	o.tsa = t
	o.mu.Unlock()
	return t, nil
}

// Roots returns the organisation's root certificate, the trust anchor of its
// seals.
func (o *Org) Roots() []*smx509.Certificate { return []*smx509.Certificate{o.root.Cert} }

// rootCert is the organisation's root certificate.
func (o *Org) rootCert() *smx509.Certificate { return o.root.Cert }

// TrustStore returns a trust store with the organisation root and its newest
// CRL, for verifying seals made here. It is rebuilt only when a newer CRL
// appears in the store, which any replica may have published.
func (o *Org) TrustStore(ctx context.Context) (*keys.TrustStore, error) {
	last, err := o.latestCRLKey(ctx)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	if o.trust != nil && o.trustCRL == last {
		ts := o.trust
		o.mu.Unlock()
		return ts, nil
	}
	o.mu.Unlock()
	ts := keys.NewTrustStore(o.root.Cert)
	ts.AddIntermediates(o.makerCA)
	if last != "" {
		crl, err := getObject(ctx, o.store, last, maxMetaObject)
		if err != nil {
			return nil, err
		}
		if err := ts.AddCRL(crl); err != nil {
			return nil, fmt.Errorf("organisation CRL %s: %w", last, err)
		}
	}
	o.mu.Lock()
	o.trust, o.trustCRL = ts, last
	o.mu.Unlock()
	return ts, nil
}

// issueSigner certifies a seal's signer key under the organisation root.
// Its subject's O= is the seal's unit.
func (o *Org) issueSigner(name, unit string, pub crypto.PublicKey, notBefore, notAfter time.Time) (*smx509.Certificate, error) {
	crl, issuer := o.certURLs()
	return o.root.Issue(keys.CertRequest{
		Kind: keys.KindSigner, CommonName: name, Organisation: unit, CRLURLs: crl, IssuerURLs: issuer,
		PublicKey: pub, NotBefore: notBefore, NotAfter: notAfter,
	})
}

// makeSESeal builds a GB/T 38540 seal signed by the seal maker.
func (o *Org) makeSESeal(spec ses.SealSpec) ([]byte, error) {
	return ses.BuildSeal(spec, o.makerKey, o.makerCA.Raw)
}

// makerNotAfter is the end of the seal maker's validity, beyond which no seal
// it makes may stay valid.
func (o *Org) makerNotAfter() time.Time { return o.makerCA.NotAfter }

// signGrant signs an authorization's bytes with the seal maker's key.
func (o *Org) signGrant(b []byte) ([]byte, error) { return keys.SignSM2(o.makerKey, b) }

// grantSignatureValid reports whether sig is the seal maker's signature over b.
func (o *Org) grantSignatureValid(b, sig []byte) bool {
	return keys.VerifySM2(o.makerCA.PublicKey, b, sig)
}

// certRevocation is a signer certificate revoked on its own (a compromised
// key), kept under revokedCertPrefix until every later CRL lists it.
type certRevocation struct {
	Serial string    `json:"serial"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	By     string    `json:"by,omitempty"`
}

// revokeCertificate records that the certificate with the given serial (hex)
// is revoked; the next CRL lists it. Recording it twice is not an error.
func (o *Org) revokeCertificate(ctx context.Context, serial, reason, by string) error {
	rc := certRevocation{Serial: serial, Reason: reason, Time: o.now().UTC().Truncate(time.Second), By: by}
	if err := putJSON(ctx, o.store, revokedCertPrefix+serial+".json", rc); err != nil && !errors.Is(err, archive.ErrExists) {
		return err
	}
	return nil
}

// revokedCertificates lists the certificates revoked on their own.
func (o *Org) revokedCertificates(ctx context.Context) ([]keys.Revocation, error) {
	var revoked []keys.Revocation
	err := o.store.List(ctx, revokedCertPrefix, func(obj archive.ObjectInfo) error {
		var rc certRevocation
		if err := getJSON(ctx, o.store, obj.Key, &rc); err != nil {
			return err
		}
		serial, ok := new(big.Int).SetString(rc.Serial, 16)
		if !ok {
			return fmt.Errorf("%s: bad serial", obj.Key)
		}
		revoked = append(revoked, keys.Revocation{Serial: serial, Time: rc.Time, Reason: crlReasonKeyCompromise})
		return nil
	})
	return revoked, err
}

// publishCRL issues a new CRL listing revoked. CRLs are numbered and never
// overwritten; another replica publishing at the same moment takes the next
// number.
func (o *Org) publishCRL(ctx context.Context, revoked []keys.Revocation) error {
	for attempt := 0; attempt < 5; attempt++ {
		n := 0
		if err := o.store.List(ctx, crlPrefix, func(archive.ObjectInfo) error { n++; return nil }); err != nil {
			return err
		}
		now := o.now().UTC().Truncate(time.Second)
		der, err := o.root.IssueCRL(revoked, big.NewInt(int64(n+1)), now, now.Add(crlValidity))
		if err != nil {
			return err
		}
		err = putObject(ctx, o.store, crlKey(n+1), der)
		if errors.Is(err, archive.ErrExists) {
			continue
		}
		return err
	}
	return errors.New("CRL: numbered concurrently too often")
}

// latestCRLKey names the newest CRL, which any replica may have published.
// CRLs are numbered 1, 2, … and never removed, so once this replica has
// listed them it asks only whether the one after the newest it knows
// exists — one HEAD, as fresh as a listing — and lists them again only
// when it does (a new CRL).
func (o *Org) latestCRLKey(ctx context.Context) (string, error) {
	o.mu.Lock()
	known := o.lastCRL
	o.mu.Unlock()
	if known > 0 {
		_, err := o.store.Head(ctx, crlKey(known+1))
		switch {
		case errors.Is(err, archive.ErrNotFound):
			return crlKey(known), nil
		case err != nil:
			return "", err
		}
	}
	var last string
	if err := o.store.List(ctx, crlPrefix, func(obj archive.ObjectInfo) error { last = obj.Key; return nil }); err != nil {
		return "", err
	}
	var n int
	if _, err := fmt.Sscanf(strings.TrimPrefix(last, crlPrefix), "%08d.der", &n); err == nil && crlKey(n) == last {
		o.mu.Lock()
		o.lastCRL = max(o.lastCRL, n)
		o.mu.Unlock()
	}
	return last, nil
}

// crlKey is where CRL number n is kept.
func crlKey(n int) string { return fmt.Sprintf("%s%08d.der", crlPrefix, n) }

// putKey stores a private key wrapped under the KEK, bound to its key name.
func (o *Org) putKey(ctx context.Context, key string, priv *sm2.PrivateKey) error {
	wrapped, err := o.kek.Wrap(priv, key)
	if err != nil {
		return err
	}
	return putObject(ctx, o.store, key, wrapped)
}

// getKey reads and unwraps a private key stored by putKey.
func (o *Org) getKey(ctx context.Context, key string) (crypto.Signer, error) {
	b, err := getObject(ctx, o.store, key, maxMetaObject)
	if err != nil {
		return nil, err
	}
	priv, err := o.kek.Unwrap(b, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return priv, nil
}
