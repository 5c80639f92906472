package seal

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/keys"
	"eseal/pdf"
	"eseal/seal/ses"
)

// sealPrefix is where the registry keeps seals: seals/<id>/ holds the signer
// key and certificate, the picture (and its PDF image streams,
// preparedImageName), the SESeal, the descriptor (seal.json), all written
// once, and status/<n>.json, one event per state change.
const sealPrefix = "seals/"

// Registry keeps an organisation's seals, their lifecycle and their
// authorizations in a store. It embeds the organisation's PKI (Org), whose
// methods — TrustStore, TSA, AuditSigner … — it offers too. It is safe for
// concurrent use; several processes may share one store.
type Registry struct {
	*Org
	store   archive.Store
	now     func() time.Time
	auditor Auditor

	mu          sync.Mutex
	loaded      map[string]*signingSeal
	grants      map[string]*Authorization // verified grants (write-once)
	descriptors map[string]Seal           // seal.json of each seal (write-once)
	statuses    listedCache[StatusEvent]  // the newest status events read
	policies    listedCache[PolicyEvent]  // the newest policy events read

	personTrust personTrust // the persons' CAs and CRLs (personca.go)
	crls        *crlFetcher // nil: persons' CAs' CRLs are not fetched (personcrlfetch.go)

	units     map[string]*Unit // unit.json of each unit (write-once)
	hints     unitHints        // the units' tags by their codes' hint (unitTagsByHint)
	firstUnit *Unit
	schedules unitSchedules // each unit's retention schedule (unitschedule.go)

	fontPath string
	fontOnce sync.Once
	font     *SealFont // nil: none found (sealfont.go)
	fontErr  error
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
	// Fonds is the fonds code (全宗号) of the organisation InitOrg creates,
	// its first unit's; "" leaves it to be configured for transfers.
	Fonds string
	// SealFont is the CJK font seal pictures are drawn with; "" looks for
	// one (LoadSealFont).
	SealFont string
	// PublicURL is the service's external base URL: the certificates the
	// root issues from now on name its CRL (CRLPath) and root certificate
	// (RootPath) under it. "" names none.
	PublicURL string
}

// InitOrg creates the organisation PKI in an empty store (see Org) and opens
// its registry. On a store that already holds an organisation it opens that
// one instead.
func InitOrg(ctx context.Context, store archive.Store, kek *keys.KEK, name string, opt Options) (*Registry, error) {
	org := newOrg(store, kek, opt.Now, opt.PublicURL)
	if _, err := store.Head(ctx, orgKey); err == nil {
		return newRegistry(org, opt), org.load(ctx)
	} else if !errors.Is(err, archive.ErrNotFound) {
		return nil, err
	}
	if opt.Fonds != "" && !ValidFonds(opt.Fonds) {
		return nil, &InputError{"fonds", "the fonds code (全宗号): 1–16 letters and digits"}
	}
	if err := org.create(ctx, name, opt.Fonds); err != nil {
		return nil, err
	}
	return newRegistry(org, opt), nil
}

// OpenRegistry opens the organisation kept in store and its seals.
func OpenRegistry(ctx context.Context, store archive.Store, kek *keys.KEK, opt Options) (*Registry, error) {
	org := newOrg(store, kek, opt.Now, opt.PublicURL)
	return newRegistry(org, opt), org.load(ctx)
}

func newRegistry(org *Org, opt Options) *Registry {
	return &Registry{Org: org, store: org.store, now: org.now, auditor: opt.Audit, fontPath: opt.SealFont,
		loaded: map[string]*signingSeal{}, grants: map[string]*Authorization{}, descriptors: map[string]Seal{}, units: map[string]*Unit{}}
}

// SetAuditor sets where state changes are logged. Call before use.
func (r *Registry) SetAuditor(a Auditor) { r.auditor = a }

// CreateSpec is what an administrator supplies to create a seal.
type CreateSpec struct {
	Name string
	Type Type
	// Picture is the seal's PNG picture; nil draws one (DrawSealPicture):
	// the unit's name on the rim, the seal's name below the star.
	Picture []byte
	// WidthMM and HeightMM are the printed size; zero means 42 mm, the size of
	// a customary round official seal.
	WidthMM, HeightMM int
	// ValidFor is the seal's validity from now; zero means DefaultValidity.
	ValidFor time.Duration
	// By names who created it, for the status history.
	By string
	// Policy says which grants may stamp with the seal; "" is PolicyPerson.
	Policy Policy
	// Unit is the unit that owns the seal; "" is the first unit.
	Unit string
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
	if spec.Policy == "" {
		spec.Policy = PolicyPerson
	}
	if spec.Policy != PolicyPerson && spec.Policy != PolicyKey {
		return nil, &InvalidError{fmt.Sprintf("policy %q: want person or key", spec.Policy)}
	}
	unit, err := r.Unit(ctx, spec.Unit)
	if err != nil {
		return nil, err
	}
	if spec.Picture == nil {
		spec.Picture, _ = DrawSealPicture(SealPictureSpec{Rim: unit.Name, Center: centreText(unit.Name, spec.Name)}, r.SealFont())
	}
	img, err := DecodePicture(spec.Picture)
	if err != nil {
		return nil, err
	}
	pimg, err := pdf.NewImage(img)
	if err != nil {
		return nil, err
	}
	prepared, err := pimg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	now := r.now().UTC().Truncate(time.Second)
	validEnd := now.Add(spec.ValidFor)
	if validEnd.After(r.makerNotAfter()) {
		return nil, &InvalidError{"validity extends beyond the seal maker's certificate"}
	}

	id := newID()
	signerKey, err := keys.GenerateKey()
	if err != nil {
		return nil, err
	}
	signerCert, err := r.issueSigner(spec.Name, unit.Name, signerKey.Public(), now.Add(-time.Minute), validEnd)
	if err != nil {
		return nil, err
	}
	sesDER, err := r.makeSESeal(ses.SealSpec{
		ESID: id, Vid: vendorID, Type: int(spec.Type), Name: spec.Name,
		SignerCerts: [][]byte{signerCert.Raw},
		CreateDate:  now, ValidStart: now, ValidEnd: validEnd,
		Picture: ses.Picture{Type: "PNG", Data: spec.Picture, WidthMM: spec.WidthMM, HeightMM: spec.HeightMM},
	})
	if err != nil {
		return nil, err
	}
	s := &Seal{
		ID: id, Name: spec.Name, Type: spec.Type, WidthMM: spec.WidthMM, HeightMM: spec.HeightMM,
		ValidStart: now, ValidEnd: validEnd, Created: now,
		SignerSerial: hex.EncodeToString(signerCert.SerialNumber.Bytes()),
	}
	if !unit.First {
		s.Unit = unit.ID
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
		{p + preparedImageName, prepared},
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
	if err := r.putPolicy(ctx, id, 1, spec.Policy, spec.By); err != nil {
		return nil, err
	}
	ev := StatusEvent{Status: Active, Reason: "created", Time: now, By: spec.By}
	if err := putJSON(ctx, r.store, statusKey(id, 1), ev); err != nil {
		return nil, err
	}
	s.Status, s.StatusReason, s.StatusTime = ev.Status, ev.Reason, ev.Time
	r.audit(ctx, AuditEvent{Action: audit.SealCreated, Subject: id, Actor: spec.By,
		Details: map[string]string{"name": s.Name, "signer_serial": s.SignerSerial, "valid_end": s.ValidEnd.Format(time.RFC3339), "policy": string(spec.Policy), "unit": unit.ID}})
	return s, nil
}

// SealFont returns the font seal pictures are drawn with, loaded once; nil
// when none is found (SealFontError says why).
func (r *Registry) SealFont() *SealFont {
	r.fontOnce.Do(func() { r.font, r.fontErr = LoadSealFont(r.fontPath) })
	return r.font
}

// SealFontError says why no font for seal pictures was loaded; nil when one was.
func (r *Registry) SealFontError() error {
	r.SealFont()
	return r.fontErr
}

// centreText is what a drawn seal shows below its star: the seal's name
// without the unit's name it usually begins with (which is on the rim).
func centreText(unit, name string) string {
	if rest := strings.TrimSpace(strings.TrimPrefix(name, unit)); rest != "" {
		return rest
	}
	return name
}

func statusKey(id string, seq int) string {
	return fmt.Sprintf("%s%s/status/%08d.json", sealPrefix, id, seq)
}

// Get returns the seal with the given id and its current status.
func (r *Registry) Get(ctx context.Context, id string) (*Seal, error) {
	s, _, err := r.getSeal(ctx, id)
	return s, err
}

// getSeal is Get, with what its listing of the seal's events found
// (sealEvents): the policy, and how many events each series has.
func (r *Registry) getSeal(ctx context.Context, id string) (*Seal, *sealEvents, error) {
	if !ValidID(id) {
		return nil, nil, &NotFoundError{id}
	}
	// The descriptor is written once and never changes: read it once. The
	// status is read every time, since any replica may change it.
	r.mu.Lock()
	d, ok := r.descriptors[id]
	r.mu.Unlock()
	if !ok {
		if err := getJSON(ctx, r.store, sealPrefix+id+"/seal.json", &d); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				return nil, nil, &NotFoundError{id}
			}
			return nil, nil, err
		}
		r.mu.Lock()
		r.descriptors[id] = d
		r.mu.Unlock()
	}
	s := d
	ev, err := r.sealEvents(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if ev.status == nil {
		return nil, nil, &NotFoundError{id}
	}
	s.Status, s.StatusReason, s.StatusTime = ev.status.Status, ev.status.Reason, ev.status.Time
	return &s, ev, nil
}

// sealEvents is the newest event of each of a seal's two series, status/
// and policy/, and how many events each has.
type sealEvents struct {
	status  *StatusEvent // nil: none
	statusN int
	policy  *PolicyEvent // nil: none (a seal made before policies)
	policyN int
}

// sealEvents reads the seal's status and policy in one listing of
// seals/<id>/ — a handful of write-once objects besides the two series —
// made every time, so a change another replica made is seen at once. The
// newest event of each series is read from the store only when it is not
// the one this registry read last (listedCache).
func (r *Registry) sealEvents(ctx context.Context, id string) (*sealEvents, error) {
	p := sealPrefix + id + "/"
	var ev sealEvents
	var status, policy archive.ObjectInfo
	// Keys list in order, and each series' keys sort in the order they
	// were appended: the last listed is the newest.
	err := r.store.List(ctx, p, func(o archive.ObjectInfo) error {
		switch rest := strings.TrimPrefix(o.Key, p); {
		case strings.HasPrefix(rest, "status/"):
			status = o
			ev.statusN++
		case strings.HasPrefix(rest, "policy/"):
			policy = o
			ev.policyN++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ev.statusN > 0 {
		s, err := r.statuses.getJSON(ctx, r.store, status)
		if err != nil {
			return nil, err
		}
		ev.status = &s
	}
	if ev.policyN > 0 {
		pe, err := r.policies.getJSON(ctx, r.store, policy)
		if err != nil {
			return nil, err
		}
		ev.policy = &pe
	}
	return &ev, nil
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
		s, events, err := r.getSeal(ctx, id)
		if err != nil {
			return nil, err
		}
		if s.Status == Revoked {
			return nil, &StateError{ID: id, Status: s.Status, Reason: "a revoked seal cannot change state"}
		}
		if s.Status == to {
			return nil, &StateError{ID: id, Status: s.Status, Reason: "already " + string(to)}
		}
		n := events.statusN
		ev := StatusEvent{Status: to, Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}
		err = putJSON(ctx, r.store, statusKey(id, n+1), ev)
		if errors.Is(err, archive.ErrExists) {
			continue // another replica changed the state at the same moment: re-read
		}
		if err != nil {
			return nil, err
		}
		if err := r.LogChange(ctx, AuditEvent{Action: statusAction[to], Subject: id, Actor: by, Details: map[string]string{"reason": reason}}, statusKey(id, n+1)); err != nil {
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
	cert, err := getCert(ctx, r.store, sealPrefix+id+"/signer.crt")
	if err != nil {
		return nil, err
	}
	return append(certPEM(cert), certPEM(r.rootCert())...), nil
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
	cert, err := getCert(ctx, r.store, p+"signer.crt")
	if err != nil {
		return nil, err
	}
	der, err := getObject(ctx, r.store, p+"seal.der", maxMetaObject)
	if err != nil {
		return nil, err
	}
	pimg, err := r.preparedImage(ctx, p)
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

// preparedImageName is the seal's picture as PDF image streams
// (pdf.Image's binary form), made from picture.png when the seal is made.
// Compressing the samples costs about twenty times the floor of stamping a
// 3 MB file (docs/performance.md); stored, a process that stamps once (the
// CLI) does not pay that.
const preparedImageName = "picture.pdfimage"

// maxPreparedImage bounds the prepared image read back: the samples of the
// largest picture allowed (RGB and alpha) and deflate's few bytes per block.
const maxPreparedImage = 4*MaxPicturePixels*MaxPicturePixels + 1<<16

// preparedImage returns the seal's picture as PDF image streams: the
// prepared form stored with the seal (prefix p), or, for a seal made before
// it was stored, one built from picture.png and stored for the processes
// after this one.
func (r *Registry) preparedImage(ctx context.Context, p string) (*pdf.Image, error) {
	im := new(pdf.Image)
	b, err := getObject(ctx, r.store, p+preparedImageName, maxPreparedImage)
	if err == nil {
		if err := im.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("%s%s: %w", p, preparedImageName, err)
		}
		return im, nil
	}
	if !errors.Is(err, archive.ErrNotFound) {
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
	if im, err = pdf.NewImage(img); err != nil {
		return nil, err
	}
	// Derived from picture.png, so written without an audit entry; when the
	// write fails (a read-only store, another process first with the same
	// bytes) the next process builds it again, as this one did.
	if b, err := im.MarshalBinary(); err == nil {
		_ = putObject(ctx, r.store, p+preparedImageName, b)
	}
	return im, nil
}

// issueCRL publishes a new CRL listing the signer certificates of every
// revoked seal and every certificate revoked on its own.
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
	certs, err := r.revokedCertificates(ctx)
	if err != nil {
		return err
	}
	return r.publishCRL(ctx, append(revoked, certs...))
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

// RevokeSignerCertificate puts a seal's signer certificate on the CRL, for a
// compromised key, without changing the seal's status. The seal cannot stamp
// until it gets a new signer key.
func (r *Registry) RevokeSignerCertificate(ctx context.Context, id, reason, by string) error {
	s, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := r.revokeCertificate(ctx, s.SignerSerial, reason, by); err != nil {
		return err
	}
	r.audit(ctx, AuditEvent{Action: CertificateRevoked, Subject: id, Actor: by, Details: map[string]string{"serial": s.SignerSerial, "reason": reason}})
	return r.issueCRL(ctx)
}

var statusAction = map[Status]audit.Action{Active: audit.SealReactivated, Suspended: audit.SealSuspended, Revoked: audit.SealRevoked}
