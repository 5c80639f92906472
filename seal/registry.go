package seal

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/keys"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/seal/ses"
)

// OrgKey is the object whose presence means the store holds an organisation.
const OrgKey = "org/org.json"

// Where the registry keeps things in the store. Every object is written once.
const (
	orgKey        = OrgKey
	rootCertKey   = "pki/root.crt"
	rootKeyKey    = "pki/root.key"
	makerCertKey  = "pki/maker.crt"
	makerKeyKey   = "pki/maker.key"
	auditCertKey  = "pki/audit.crt"
	auditKeyKey   = "pki/audit.key"
	tsaCertKey    = "pki/tsa.crt"
	tsaKeyKey     = "pki/tsa.key"
	crlPrefix     = "pki/crl/"
	sealPrefix    = "seals/"
	maxMetaObject = 1 << 20
)

// Validity periods of what the embedded organisation CA issues.
const (
	rootValidity    = 20 * 365 * 24 * time.Hour
	makerValidity   = 10 * 365 * 24 * time.Hour
	DefaultValidity = 5 * 365 * 24 * time.Hour
	crlValidity     = 7 * 24 * time.Hour
)

// vendorID is the Vid written into the SES_Header of seals made here.
const vendorID = "eseal"

// OrgInfo describes the organisation whose seals the registry keeps.
type OrgInfo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Registry keeps an organisation's PKI and seals in a store. It is safe for
// concurrent use; several processes may share one store.
type Registry struct {
	store archive.Store
	kek   *keys.KEK
	now   func() time.Time

	org      OrgInfo
	root     *keys.CA
	makerCA  *smx509.Certificate
	makerKey crypto.Signer

	auditor Auditor

	mu          sync.Mutex
	loaded      map[string]*signingSeal
	grants      map[string]*Authorization // verified grants (write-once)
	descriptors map[string]Seal           // seal.json of each seal (write-once)
	tsa         *tsa.Server
	// trust is the trust store built from the CRL named trustCRL.
	trust    *keys.TrustStore
	trustCRL string
}

// signingSeal is a seal made ready for stamping: key unwrapped, SESeal and
// PDF image prepared once, reused by every stamping.
type signingSeal struct {
	id        string
	key       crypto.Signer
	cert      *smx509.Certificate
	sesealDER []byte
	image     *pdf.Image
	widthMM   float64
	heightMM  float64
	name      string
	// checkedWith is the trust store the signer chain last verified
	// against (see Stamper.checkSigner).
	checkedWith atomic.Pointer[keys.TrustStore]
}

// Options configure a Registry.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit receives every state change; nil logs nothing (tests).
	Audit Auditor
}

// InitOrg creates the organisation PKI in an empty store: a root CA and the
// seal maker's certificate, with keys wrapped under kek, and an empty CRL.
// On a store that already holds an organisation it opens that one instead.
func InitOrg(ctx context.Context, store archive.Store, kek *keys.KEK, name string, opt Options) (*Registry, error) {
	r := newRegistry(store, kek, opt)
	if _, err := store.Head(ctx, orgKey); err == nil {
		return r, r.load(ctx)
	} else if !errors.Is(err, archive.ErrNotFound) {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 128 {
		return nil, &InvalidError{"organisation name must have 1–128 characters"}
	}
	now := r.now().UTC().Truncate(time.Second)

	rootKey, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	root, err := keys.NewRootCA(name, rootKey, now.Add(-time.Hour), now.Add(rootValidity))
	if err != nil {
		return nil, err
	}
	makerKey, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	makerCert, err := root.Issue(keys.CertRequest{
		Kind: keys.KindSealMaker, CommonName: name + " 电子印章制章者", Organization: name,
		PublicKey: makerKey.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(makerValidity),
	})
	if err != nil {
		return nil, err
	}
	if err := r.putKey(ctx, rootKeyKey, rootKey); err != nil {
		return nil, err
	}
	if err := r.putKey(ctx, makerKeyKey, makerKey); err != nil {
		return nil, err
	}
	if err := putObject(ctx, store, rootCertKey, certPEM(root.Cert)); err != nil {
		return nil, err
	}
	if err := putObject(ctx, store, makerCertKey, certPEM(makerCert)); err != nil {
		return nil, err
	}
	// The audit log's checkpoints get a key of their own (DESIGN.md: signed
	// checkpoints), so a leaked seal maker key cannot rewrite history.
	auditKey, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	auditCert, err := root.Issue(keys.CertRequest{
		Kind: keys.KindSigner, CommonName: name + " 审计日志", Organization: name,
		PublicKey: auditKey.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(makerValidity),
	})
	if err != nil {
		return nil, err
	}
	if err := r.putKey(ctx, auditKeyKey, auditKey); err != nil {
		return nil, err
	}
	if err := putObject(ctx, store, auditCertKey, certPEM(auditCert)); err != nil {
		return nil, err
	}
	// The embedded RFC 3161 time-stamping authority.
	tsaKey, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	tsaCert, err := root.Issue(keys.CertRequest{
		Kind: keys.KindTSA, CommonName: name + " 时间戳服务", Organization: name,
		PublicKey: tsaKey.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(makerValidity),
	})
	if err != nil {
		return nil, err
	}
	if err := r.putKey(ctx, tsaKeyKey, tsaKey); err != nil {
		return nil, err
	}
	if err := putObject(ctx, store, tsaCertKey, certPEM(tsaCert)); err != nil {
		return nil, err
	}
	r.root, r.makerCA, r.makerKey = root, makerCert, makerKey
	if err := r.issueCRL(ctx); err != nil {
		return nil, err
	}
	// The organisation record is written last: its presence means the PKI is complete.
	r.org = OrgInfo{Name: name, Created: now}
	if err := putJSON(ctx, store, orgKey, r.org); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRegistry opens the organisation kept in store.
func OpenRegistry(ctx context.Context, store archive.Store, kek *keys.KEK, opt Options) (*Registry, error) {
	r := newRegistry(store, kek, opt)
	return r, r.load(ctx)
}

func newRegistry(store archive.Store, kek *keys.KEK, opt Options) *Registry {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return &Registry{store: store, kek: kek, now: now, auditor: opt.Audit, loaded: map[string]*signingSeal{}, grants: map[string]*Authorization{}, descriptors: map[string]Seal{}}
}

// ErrNoOrganisation means the store has not been initialised with `eseal init`.
var ErrNoOrganisation = errors.New("no organisation in this store: run `eseal init` first")

func (r *Registry) load(ctx context.Context) error {
	if err := getJSON(ctx, r.store, orgKey, &r.org); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return ErrNoOrganisation
		}
		return err
	}
	rootCert, err := r.getCert(ctx, rootCertKey)
	if err != nil {
		return err
	}
	rootKey, err := r.getKey(ctx, rootKeyKey)
	if err != nil {
		return err
	}
	r.root = &keys.CA{Cert: rootCert, Key: rootKey}
	if r.makerCA, err = r.getCert(ctx, makerCertKey); err != nil {
		return err
	}
	if r.makerKey, err = r.getKey(ctx, makerKeyKey); err != nil {
		return err
	}
	return nil
}

// AuditSigner returns the key that signs audit-log checkpoints.
func (r *Registry) AuditSigner(ctx context.Context) (crypto.Signer, error) {
	return r.getKey(ctx, auditKeyKey)
}

// AuditCertificate returns the certificate of the audit-log checkpoint key.
func (r *Registry) AuditCertificate(ctx context.Context) (*smx509.Certificate, error) {
	return r.getCert(ctx, auditCertKey)
}

// TSA returns the organisation's embedded time-stamping authority.
func (r *Registry) TSA(ctx context.Context) (*tsa.Server, error) {
	r.mu.Lock()
	t := r.tsa
	r.mu.Unlock()
	if t != nil {
		return t, nil
	}
	key, err := r.getKey(ctx, tsaKeyKey)
	if err != nil {
		return nil, err
	}
	cert, err := r.getCert(ctx, tsaCertKey)
	if err != nil {
		return nil, err
	}
	t = &tsa.Server{Signer: key, Cert: cert, Chain: []*smx509.Certificate{r.root.Cert}, Policy: OIDTSAPolicy, Now: r.now}
	r.mu.Lock()
	r.tsa = t
	r.mu.Unlock()
	return t, nil
}

// SetAuditor sets where state changes are logged. Call before use.
func (r *Registry) SetAuditor(a Auditor) { r.auditor = a }

// Org describes the organisation.
func (r *Registry) Org() OrgInfo { return r.org }

// Roots returns the organisation's root certificate, the trust anchor of its
// seals.
func (r *Registry) Roots() []*smx509.Certificate { return []*smx509.Certificate{r.root.Cert} }

// TrustStore returns a trust store with the organisation root and its newest
// CRL, for verifying seals made here. It is rebuilt only when a newer CRL
// appears in the store, which any replica may have published.
func (r *Registry) TrustStore(ctx context.Context) (*keys.TrustStore, error) {
	last, err := r.latestCRLKey(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.trust != nil && r.trustCRL == last {
		ts := r.trust
		r.mu.Unlock()
		return ts, nil
	}
	r.mu.Unlock()
	ts := keys.NewTrustStore(r.root.Cert)
	ts.AddIntermediates(r.makerCA)
	if last != "" {
		crl, err := getObject(ctx, r.store, last, maxMetaObject)
		if err != nil {
			return nil, err
		}
		if err := ts.AddCRL(crl); err != nil {
			return nil, fmt.Errorf("organisation CRL %s: %w", last, err)
		}
	}
	r.mu.Lock()
	r.trust, r.trustCRL = ts, last
	r.mu.Unlock()
	return ts, nil
}

// CreateSpec is what an administrator supplies to create a seal.
type CreateSpec struct {
	Name string
	Type Type
	// Picture is the seal's PNG picture; nil draws the demo picture.
	Picture []byte
	// WidthMM and HeightMM are the printed size; zero means 42 mm, the size of
	// a customary round official seal.
	WidthMM, HeightMM int
	// ValidFor is the seal's validity from now; zero means DefaultValidity.
	ValidFor time.Duration
	// By names who created it, for the status history.
	By string
}

// CreateSeal makes a new seal: an SM2 signer key and certificate issued by the
// organisation CA, and a GB/T 38540 V4 SESeal signed by the seal maker that
// lists the signer certificate.
func (r *Registry) CreateSeal(ctx context.Context, spec CreateSpec) (*Seal, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Name == "" || utf8.RuneCountInString(spec.Name) > 64 {
		return nil, &InvalidError{"name must have 1–64 characters"}
	}
	if spec.Type == 0 {
		spec.Type = TypeOfficial
	}
	if spec.Type < 1 || spec.Type > maxKnownTypes {
		return nil, &InvalidError{fmt.Sprintf("type must be 1–%d", maxKnownTypes)}
	}
	if spec.WidthMM == 0 {
		spec.WidthMM = 42
	}
	if spec.HeightMM == 0 {
		spec.HeightMM = spec.WidthMM
	}
	for _, mm := range []int{spec.WidthMM, spec.HeightMM} {
		if mm < MinPictureMM || mm > MaxPictureMM {
			return nil, &InvalidError{fmt.Sprintf("size must be %d–%d mm", MinPictureMM, MaxPictureMM)}
		}
	}
	if spec.ValidFor == 0 {
		spec.ValidFor = DefaultValidity
	}
	if spec.ValidFor < time.Hour || spec.ValidFor > 30*365*24*time.Hour {
		return nil, &InvalidError{"validity must be between one hour and 30 years"}
	}
	if spec.Picture == nil {
		spec.Picture = DemoPicture(512)
	}
	if _, err := DecodePicture(spec.Picture); err != nil {
		return nil, err
	}
	now := r.now().UTC().Truncate(time.Second)
	validEnd := now.Add(spec.ValidFor)
	if validEnd.After(r.makerCA.NotAfter) {
		return nil, &InvalidError{"validity extends beyond the seal maker's certificate"}
	}

	id := newID()
	signerKey, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	signerCert, err := r.root.Issue(keys.CertRequest{
		Kind: keys.KindSigner, CommonName: spec.Name, Organization: r.org.Name,
		PublicKey: signerKey.Public(), NotBefore: now.Add(-time.Minute), NotAfter: validEnd,
	})
	if err != nil {
		return nil, err
	}
	sesDER, err := ses.BuildSeal(ses.SealSpec{
		ESID: id, Vid: vendorID, Type: int(spec.Type), Name: spec.Name,
		SignerCerts: [][]byte{signerCert.Raw},
		CreateDate:  now, ValidStart: now, ValidEnd: validEnd,
		Picture: ses.Picture{Type: "PNG", Data: spec.Picture, WidthMM: spec.WidthMM, HeightMM: spec.HeightMM},
	}, r.makerKey, r.makerCA.Raw)
	if err != nil {
		return nil, err
	}
	s := &Seal{
		ID: id, Name: spec.Name, Type: spec.Type, WidthMM: spec.WidthMM, HeightMM: spec.HeightMM,
		ValidStart: now, ValidEnd: validEnd, Created: now,
		SignerSerial: hex.EncodeToString(signerCert.SerialNumber.Bytes()),
	}
	p := sealPrefix + id + "/"
	if err := r.putKey(ctx, p+"signer.key", signerKey); err != nil {
		return nil, err
	}
	for _, o := range []struct {
		key  string
		data []byte
	}{
		{p + "signer.crt", certPEM(signerCert)},
		{p + "picture.png", spec.Picture},
		{p + "seal.der", sesDER},
	} {
		if err := putObject(ctx, r.store, o.key, o.data); err != nil {
			return nil, err
		}
	}
	// The descriptor is written before the first status event; a seal without
	// a status event does not exist for List or Get, so a crash in between
	// leaves only unreachable objects.
	if err := putJSON(ctx, r.store, p+"seal.json", s); err != nil {
		return nil, err
	}
	ev := StatusEvent{Status: Active, Reason: "created", Time: now, By: spec.By}
	if err := putJSON(ctx, r.store, statusKey(id, 1), ev); err != nil {
		return nil, err
	}
	s.Status, s.StatusReason, s.StatusTime = ev.Status, ev.Reason, ev.Time
	r.audit(ctx, AuditEvent{Action: audit.SealCreated, Subject: id, Actor: spec.By,
		Details: map[string]string{"name": s.Name, "signer_serial": s.SignerSerial, "valid_end": s.ValidEnd.Format(time.RFC3339)}})
	return s, nil
}

func statusKey(id string, seq int) string {
	return fmt.Sprintf("%s%s/status/%08d.json", sealPrefix, id, seq)
}

// Get returns the seal with the given id and its current status.
func (r *Registry) Get(ctx context.Context, id string) (*Seal, error) {
	if !ValidID(id) {
		return nil, &NotFoundError{id}
	}
	// The descriptor is written once and never changes: read it once. The
	// status is read every time, since any replica may change it.
	r.mu.Lock()
	d, ok := r.descriptors[id]
	r.mu.Unlock()
	if !ok {
		if err := getJSON(ctx, r.store, sealPrefix+id+"/seal.json", &d); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				return nil, &NotFoundError{id}
			}
			return nil, err
		}
		r.mu.Lock()
		r.descriptors[id] = d
		r.mu.Unlock()
	}
	s := d
	ev, _, err := r.lastStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, &NotFoundError{id}
	}
	s.Status, s.StatusReason, s.StatusTime = ev.Status, ev.Reason, ev.Time
	return &s, nil
}

func (r *Registry) lastStatus(ctx context.Context, id string) (*StatusEvent, int, error) {
	var last string
	n := 0
	err := r.store.List(ctx, sealPrefix+id+"/status/", func(o archive.ObjectInfo) error {
		last = o.Key
		n++
		return nil
	})
	if err != nil || last == "" {
		return nil, 0, err
	}
	var ev StatusEvent
	if err := getJSON(ctx, r.store, last, &ev); err != nil {
		return nil, 0, err
	}
	return &ev, n, nil
}

// List returns every seal, ordered by name then id.
func (r *Registry) List(ctx context.Context) ([]*Seal, error) {
	var ids []string
	err := r.store.List(ctx, sealPrefix, func(o archive.ObjectInfo) error {
		if rest, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, sealPrefix), "/seal.json"); ok && ValidID(rest) {
			ids = append(ids, rest)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	seals := make([]*Seal, 0, len(ids))
	for _, id := range ids {
		s, err := r.Get(ctx, id)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			continue // half-created by an interrupted CreateSeal
		}
		if err != nil {
			return nil, err
		}
		seals = append(seals, s)
	}
	sort.Slice(seals, func(i, j int) bool {
		if seals[i].Name != seals[j].Name {
			return seals[i].Name < seals[j].Name
		}
		return seals[i].ID < seals[j].ID
	})
	return seals, nil
}

// SetStatus moves a seal to a new state: active ⇄ suspended, and anything to
// revoked, which is final and puts the signer certificate on the CRL.
func (r *Registry) SetStatus(ctx context.Context, id string, to Status, reason, by string) (*Seal, error) {
	if to != Active && to != Suspended && to != Revoked {
		return nil, &InvalidError{fmt.Sprintf("unknown status %q", to)}
	}
	if utf8.RuneCountInString(reason) > 512 {
		return nil, &InvalidError{"reason is longer than 512 characters"}
	}
	for attempt := 0; attempt < 5; attempt++ {
		s, err := r.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if s.Status == Revoked {
			return nil, &StateError{ID: id, Status: s.Status, Reason: "a revoked seal cannot change state"}
		}
		if s.Status == to {
			return nil, &StateError{ID: id, Status: s.Status, Reason: "already " + string(to)}
		}
		_, n, err := r.lastStatus(ctx, id)
		if err != nil {
			return nil, err
		}
		ev := StatusEvent{Status: to, Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}
		err = putJSON(ctx, r.store, statusKey(id, n+1), ev)
		if errors.Is(err, archive.ErrExists) {
			continue // another replica changed the state at the same moment: re-read
		}
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		delete(r.loaded, id)
		r.mu.Unlock()
		if to == Revoked {
			if err := r.issueCRL(ctx); err != nil {
				return nil, fmt.Errorf("seal revoked, but the CRL was not updated: %w", err)
			}
		}
		s.Status, s.StatusReason, s.StatusTime = ev.Status, ev.Reason, ev.Time
		r.audit(ctx, AuditEvent{Action: statusAction[to], Subject: id, Actor: by, Details: map[string]string{"reason": reason}})
		return s, nil
	}
	return nil, fmt.Errorf("seal %s: status changed concurrently too often", id)
}

// SESeal returns the DER of the seal's GB/T 38540 object.
func (r *Registry) SESeal(ctx context.Context, id string) ([]byte, error) {
	if _, err := r.Get(ctx, id); err != nil {
		return nil, err
	}
	return getObject(ctx, r.store, sealPrefix+id+"/seal.der", maxMetaObject)
}

// Picture returns the seal's PNG picture.
func (r *Registry) Picture(ctx context.Context, id string) ([]byte, error) {
	if _, err := r.Get(ctx, id); err != nil {
		return nil, err
	}
	return getObject(ctx, r.store, sealPrefix+id+"/picture.png", MaxPictureBytes)
}

// Chain returns the seal's signer certificate followed by the root, PEM encoded.
func (r *Registry) Chain(ctx context.Context, id string) ([]byte, error) {
	if _, err := r.Get(ctx, id); err != nil {
		return nil, err
	}
	cert, err := r.getCert(ctx, sealPrefix+id+"/signer.crt")
	if err != nil {
		return nil, err
	}
	return append(certPEM(cert), certPEM(r.root.Cert)...), nil
}

// signingSeal loads what stamping with the seal needs, once per process.
func (r *Registry) signingSeal(ctx context.Context, s *Seal) (*signingSeal, error) {
	r.mu.Lock()
	l := r.loaded[s.ID]
	r.mu.Unlock()
	if l != nil {
		return l, nil
	}
	p := sealPrefix + s.ID + "/"
	key, err := r.getKey(ctx, p+"signer.key")
	if err != nil {
		return nil, err
	}
	cert, err := r.getCert(ctx, p+"signer.crt")
	if err != nil {
		return nil, err
	}
	der, err := getObject(ctx, r.store, p+"seal.der", maxMetaObject)
	if err != nil {
		return nil, err
	}
	pic, err := getObject(ctx, r.store, p+"picture.png", MaxPictureBytes)
	if err != nil {
		return nil, err
	}
	img, err := DecodePicture(pic)
	if err != nil {
		return nil, err
	}
	pimg, err := pdf.NewImage(img)
	if err != nil {
		return nil, err
	}
	l = &signingSeal{
		id: s.ID, key: key, cert: cert, sesealDER: der, image: pimg,
		widthMM: float64(s.WidthMM), heightMM: float64(s.HeightMM), name: s.Name,
	}
	r.mu.Lock()
	r.loaded[s.ID] = l
	r.mu.Unlock()
	return l, nil
}

// issueCRL publishes a new CRL listing the signer certificates of every
// revoked seal and every certificate revoked on its own. CRLs are numbered and
// never overwritten.
func (r *Registry) issueCRL(ctx context.Context) error {
	var revoked []keys.Revocation
	seals, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, s := range seals {
		if s.Status != Revoked {
			continue
		}
		serial, ok := new(big.Int).SetString(s.SignerSerial, 16)
		if !ok {
			return fmt.Errorf("seal %s: bad signer serial %q", s.ID, s.SignerSerial)
		}
		revoked = append(revoked, keys.Revocation{Serial: serial, Time: s.StatusTime, Reason: crlReasonCessation})
	}
	err = r.store.List(ctx, revokedCertPrefix, func(o archive.ObjectInfo) error {
		var rc certRevocation
		if err := getJSON(ctx, r.store, o.Key, &rc); err != nil {
			return err
		}
		serial, ok := new(big.Int).SetString(rc.Serial, 16)
		if !ok {
			return fmt.Errorf("%s: bad serial", o.Key)
		}
		revoked = append(revoked, keys.Revocation{Serial: serial, Time: rc.Time, Reason: crlReasonKeyCompromise})
		return nil
	})
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 5; attempt++ {
		n := 0
		if err := r.store.List(ctx, crlPrefix, func(archive.ObjectInfo) error { n++; return nil }); err != nil {
			return err
		}
		now := r.now().UTC().Truncate(time.Second)
		der, err := r.root.IssueCRL(revoked, big.NewInt(int64(n+1)), now, now.Add(crlValidity))
		if err != nil {
			return err
		}
		err = putObject(ctx, r.store, fmt.Sprintf("%s%08d.der", crlPrefix, n+1), der)
		if errors.Is(err, archive.ErrExists) {
			continue
		}
		return err
	}
	return errors.New("CRL: numbered concurrently too often")
}

func (r *Registry) latestCRLKey(ctx context.Context) (string, error) {
	var last string
	err := r.store.List(ctx, crlPrefix, func(o archive.ObjectInfo) error { last = o.Key; return nil })
	return last, err
}

func (r *Registry) putKey(ctx context.Context, key string, priv *sm2.PrivateKey) error {
	wrapped, err := r.kek.Wrap(priv, key)
	if err != nil {
		return err
	}
	return putObject(ctx, r.store, key, wrapped)
}

func (r *Registry) getKey(ctx context.Context, key string) (crypto.Signer, error) {
	b, err := getObject(ctx, r.store, key, maxMetaObject)
	if err != nil {
		return nil, err
	}
	priv, err := r.kek.Unwrap(b, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return priv, nil
}

func (r *Registry) getCert(ctx context.Context, key string) (*smx509.Certificate, error) {
	b, err := getObject(ctx, r.store, key, maxMetaObject)
	if err != nil {
		return nil, err
	}
	certs, err := keys.ParseCertificatesPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s: want one certificate, found %d", key, len(certs))
	}
	return certs[0], nil
}

func certPEM(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func putObject(ctx context.Context, s archive.Store, key string, data []byte) error {
	_, err := archive.PutBytesIfAbsent(ctx, s, key, data)
	return err
}

// getObject reads a small object, refusing one larger than max.
func getObject(ctx context.Context, s archive.Store, key string, max int64) ([]byte, error) {
	info, err := s.Head(ctx, key)
	if err != nil {
		return nil, err
	}
	if info.Size > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", key, info.Size, max)
	}
	b, _, err := archive.GetBytes(ctx, s, key)
	return b, err
}

func putJSON(ctx context.Context, s archive.Store, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return putObject(ctx, s, key, append(b, '\n'))
}

func getJSON(ctx context.Context, s archive.Store, key string, v any) error {
	b, err := getObject(ctx, s, key, maxMetaObject)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// History returns the seal's status events, oldest first.
func (r *Registry) History(ctx context.Context, id string) ([]StatusEvent, error) {
	if _, err := r.Get(ctx, id); err != nil {
		return nil, err
	}
	var evs []StatusEvent
	err := r.store.List(ctx, sealPrefix+id+"/status/", func(o archive.ObjectInfo) error {
		var ev StatusEvent
		if err := getJSON(ctx, r.store, o.Key, &ev); err != nil {
			return err
		}
		evs = append(evs, ev)
		return nil
	})
	return evs, err
}

// RFC 5280 CRL reason codes used here.
const (
	crlReasonKeyCompromise = 1
	crlReasonCessation     = 5
)

const revokedCertPrefix = "pki/revoked/"

type certRevocation struct {
	Serial string    `json:"serial"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	By     string    `json:"by,omitempty"`
}

// RevokeSignerCertificate puts a seal's signer certificate on the CRL, for a
// compromised key, without changing the seal's status. The seal cannot stamp
// until it gets a new signer key.
func (r *Registry) RevokeSignerCertificate(ctx context.Context, id, reason, by string) error {
	s, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	rc := certRevocation{Serial: s.SignerSerial, Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}
	if err := putJSON(ctx, r.store, revokedCertPrefix+s.SignerSerial+".json", rc); err != nil && !errors.Is(err, archive.ErrExists) {
		return err
	}
	r.audit(ctx, AuditEvent{Action: CertificateRevoked, Subject: id, Actor: by, Details: map[string]string{"serial": s.SignerSerial, "reason": reason}})
	return r.issueCRL(ctx)
}

var statusAction = map[Status]audit.Action{Active: audit.SealReactivated, Suspended: audit.SealSuspended, Revoked: audit.SealRevoked}
