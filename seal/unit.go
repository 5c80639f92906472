package seal

// Units (单位) are the tenants of one deployment: the departments of a city,
// the service centres of a district. The platform's PKI (root CA, seal
// maker, TSA, audit key) serves every unit; each unit owns its seals (whose
// signer certificates carry the unit's name as O=), their responsible
// persons, its API keys, its fonds code and its records. A unit's records are
// kept under its own prefix (archive.UnitDocsPrefix), its document ids carry
// its tag, so a unit's records can be transferred or handed over on their
// own.
//
// The first unit is the organisation `eseal init` made: a store written
// before units existed opens as a deployment whose first unit is that
// organisation, its seals (no unit recorded), its keys (no unit recorded)
// and its documents (docs/<id>/, untagged ids) unchanged.

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/lifecycle"
)

// Unit is one tenant of the deployment.
type Unit struct {
	ID string `json:"id"` // u-<8 letters>
	// Name is the unit's name: the O= of its signer certificates.
	Name string `json:"name"`
	// Code is the unit's 统一社会信用代码 or the platform's own code for it;
	// unique in the deployment.
	Code string `json:"code"`
	// Fonds is the fonds code (全宗号) of its records' reference codes.
	Fonds string `json:"fonds,omitempty"`
	// First marks the organisation `eseal init` made: its documents carry
	// untagged ids and live under docs/.
	First     bool      `json:"first,omitempty"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Tag is what the unit's document ids carry: "" for the first unit.
func (u *Unit) Tag() string {
	if u == nil || u.First {
		return ""
	}
	return strings.TrimPrefix(u.ID, "u-")
}

// UnitSpec is what the platform administrator supplies to create a unit.
type UnitSpec struct {
	Name, Code, Fonds string
	By                string
}

// UnitCreated is the audit action of a new unit.
const UnitCreated audit.Action = "unit.created"

var (
	unitIDPattern   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^u-[a-z2-7]{8}$`) })
	unitCodePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]{0,31}$`) })
	fondsPattern    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z]{1,16}$`) })
)

// ValidUnitID reports whether s has the form of a unit id.
func ValidUnitID(s string) bool { return unitIDPattern().MatchString(s) }

// UnitNotFoundError says that no unit has the id.
type UnitNotFoundError struct{ ID string }

func (e *UnitNotFoundError) Error() string { return fmt.Sprintf("unit %q not found", e.ID) }

// UnitExistsError says that a unit with the code exists already.
type UnitExistsError struct{ Code, ID string }

func (e *UnitExistsError) Error() string {
	return fmt.Sprintf("unit code %s is taken by %s", e.Code, e.ID)
}

func unitKey(id string) string { return archive.UnitsPrefix + id + "/unit.json" }

func unitCodeKey(code string) string {
	return archive.UnitsPrefix + "codes/" + strings.ToUpper(code) + ".json"
}

func newUnitID(b [5]byte) string {
	return "u-" + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// ValidFonds reports whether s is a fonds code (全宗号): 1–16 letters and digits.
func ValidFonds(s string) bool { return fondsPattern().MatchString(s) }

func (r *Registry) unitCacheGet(id string) *Unit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.units[id]
}

// CreateUnit makes a unit. Its code must be unique in the deployment.
func (r *Registry) CreateUnit(ctx context.Context, spec UnitSpec) (*Unit, error) {
	spec.Name, spec.Code, spec.Fonds = strings.TrimSpace(spec.Name), strings.TrimSpace(spec.Code), strings.TrimSpace(spec.Fonds)
	switch {
	case !validName(spec.Name, 64):
		return nil, &InputError{"name", "1–64 characters, no control characters"}
	case !unitCodePattern().MatchString(spec.Code):
		return nil, &InputError{"code", "the 统一社会信用代码 (18 characters) or the platform's code: 1–32 letters, digits and -"}
	case !ValidFonds(spec.Fonds):
		return nil, &InputError{"fonds", "the fonds code (全宗号): 1–16 letters and digits"}
	}
	if _, err := r.FirstUnit(ctx); err != nil {
		return nil, err
	}
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	u := &Unit{ID: newUnitID(b), Name: spec.Name, Code: spec.Code, Fonds: spec.Fonds,
		Created: r.now().UTC().Truncate(time.Second), CreatedBy: spec.By}
	// The code is claimed first: of two units created with one code, one
	// exists.
	if err := putJSON(ctx, r.store, unitCodeKey(u.Code), map[string]string{"unit": u.ID}); err != nil {
		if errors.Is(err, archive.ErrExists) {
			var owner map[string]string
			_ = getJSON(ctx, r.store, unitCodeKey(u.Code), &owner)
			return nil, &UnitExistsError{Code: u.Code, ID: owner["unit"]}
		}
		return nil, err
	}
	if err := putJSON(ctx, r.store, unitKey(u.ID), u); err != nil {
		return nil, err
	}
	// Undone, unit and code claim, when the log cannot hold it.
	if err := r.LogChange(ctx, AuditEvent{Action: UnitCreated, Subject: u.ID, Actor: spec.By,
		Details: map[string]string{"name": u.Name, "code": u.Code, "fonds": u.Fonds}}, unitKey(u.ID), unitCodeKey(u.Code)); err != nil {
		return nil, err
	}
	return u, nil
}

// unitHints maps the unit hints that begin retrieval codes
// (lifecycle.UnitHint) to the tags of the units they may name, from the
// units' code claims (units/codes/), each read once.
type unitHints struct {
	mu     sync.Mutex
	read   map[string]string   // claim key → the unit's tag
	byHint map[string][]string // hint → tags
	listed time.Time
}

// unitRelistEvery is how often the code claims are listed again while
// codes are looked up: a unit made on another replica is known within it,
// at the cost of at most one listing per interval.
const unitRelistEvery = time.Second

// unitTagsByHint gives the tags of the units whose codes begin with hint
// ("" for the first unit): lifecycle.Documents' UnitTags.
func (r *Registry) unitTagsByHint(ctx context.Context, hint string) ([]string, error) {
	h := &r.hints
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.listed) >= unitRelistEvery {
		if err := r.listUnitHints(ctx); err != nil {
			return nil, err
		}
	}
	tags := slices.Clone(h.byHint[hint])
	if lifecycle.UnitHint("") == hint {
		tags = append([]string{""}, tags...)
	}
	return tags, nil
}

// listUnitHints reads the code claims not read yet; h.mu is held.
func (r *Registry) listUnitHints(ctx context.Context) error {
	h := &r.hints
	if h.read == nil {
		h.read, h.byHint = map[string]string{}, map[string][]string{}
	}
	var keys []string
	if err := r.store.List(ctx, archive.UnitsPrefix+"codes/", func(o archive.ObjectInfo) error {
		if _, seen := h.read[o.Key]; !seen {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		var claim map[string]string
		if err := getJSON(ctx, r.store, k, &claim); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				continue // a creation the audit log refused, undone
			}
			return err
		}
		id := claim["unit"]
		if !ValidUnitID(id) {
			continue
		}
		tag := strings.TrimPrefix(id, "u-")
		h.read[k] = tag
		hint := lifecycle.UnitHint(tag)
		h.byHint[hint] = append(h.byHint[hint], tag)
	}
	h.listed = time.Now()
	return nil
}

// Unit returns a unit by id; "" is the first unit.
func (r *Registry) Unit(ctx context.Context, id string) (*Unit, error) {
	if id == "" {
		return r.FirstUnit(ctx)
	}
	if u := r.unitCacheGet(id); u != nil {
		return u, nil
	}
	if !ValidUnitID(id) {
		return nil, &UnitNotFoundError{ID: id}
	}
	var u Unit
	if err := getJSON(ctx, r.store, unitKey(id), &u); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return nil, &UnitNotFoundError{ID: id}
		}
		return nil, err
	}
	if u.ID != id {
		return nil, fmt.Errorf("unit %s: stored description names %s", id, u.ID)
	}
	r.mu.Lock()
	r.units[id] = &u
	r.mu.Unlock()
	return &u, nil
}

// Units lists every unit, the first unit first.
func (r *Registry) Units(ctx context.Context) ([]*Unit, error) {
	first, err := r.FirstUnit(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	err = r.store.List(ctx, archive.UnitsPrefix, func(o archive.ObjectInfo) error {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, archive.UnitsPrefix), "/unit.json"); ok && ValidUnitID(id) && id != first.ID {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []*Unit{first}
	for _, id := range ids {
		u, err := r.Unit(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	sort.SliceStable(out[1:], func(i, j int) bool { return out[1+i].Created.Before(out[1+j].Created) })
	return out, nil
}

// FirstUnit returns the organisation `eseal init` made, as a unit. A store
// written before units gets its description here, once: its id follows from
// the root certificate, so replicas opening it together write the same.
func (r *Registry) FirstUnit(ctx context.Context) (*Unit, error) {
	r.mu.Lock()
	first := r.firstUnit
	r.mu.Unlock()
	if first != nil {
		return first, nil
	}
	sum := sm3.Sum(r.rootCert().Raw)
	var b [5]byte
	copy(b[:], sum[:])
	id := newUnitID(b)
	var u Unit
	switch err := getJSON(ctx, r.store, unitKey(id), &u); {
	case errors.Is(err, archive.ErrNotFound):
		u = Unit{ID: id, Name: r.info.Name, Fonds: r.info.Fonds, First: true, Created: r.info.Created}
		if err := putJSON(ctx, r.store, unitKey(id), &u); err != nil && !errors.Is(err, archive.ErrExists) {
			return nil, err
		}
		if err := getJSON(ctx, r.store, unitKey(id), &u); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	if !u.First || u.ID != id {
		return nil, fmt.Errorf("unit %s: the stored first unit is not marked first", id)
	}
	r.mu.Lock()
	r.firstUnit = &u
	r.units[id] = &u
	r.mu.Unlock()
	return &u, nil
}

// UnitOf returns the unit a seal belongs to (a seal without a unit belongs to
// the first unit).
func (r *Registry) UnitOf(ctx context.Context, s *Seal) (*Unit, error) {
	return r.Unit(ctx, s.Unit)
}

// DocumentUnit returns the unit whose record a document id names, from the
// tag the id carries.
func (r *Registry) DocumentUnit(ctx context.Context, docID string) (*Unit, error) {
	tag := archive.UnitTag(docID)
	if tag == "" {
		return r.FirstUnit(ctx)
	}
	return r.Unit(ctx, "u-"+tag)
}
