// Package api serves eseal over HTTP: the REST API for approval systems,
// authorizers, administrators and archivists, and the public download and
// verification pages.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/seal"
)

// Role is what an API key may do. A key has exactly one role: no role
// includes another, so the key that grants an authorization is never the key
// that stamps under it.
type Role string

// Roles (docs/architecture.md, "Who uses it").
const (
	// RoleAdmin manages seals, responsible persons and API keys; it neither
	// grants nor stamps.
	RoleAdmin Role = "admin"
	// RoleAuthorizer grants (for seals whose policy is key) and revokes
	// authorizations for its seals.
	RoleAuthorizer Role = "authorizer"
	// RoleStamper asks for authorizations, stamps with its seals and reads
	// the documents stamped with them.
	RoleStamper Role = "stamper"
	// RoleArchivist reads every record of its unit, sets legal holds and
	// makes transfers.
	RoleArchivist Role = "archivist"
	// RolePlatform is the platform administrator of a deployment serving
	// several units: it creates units and the keys of their administrators
	// (and any key of a unit, such as a stamper key for joint approvals
	// across units); it manages no seal itself.
	RolePlatform Role = "platform"
)

// Roles lists every role, in the order the CLI and the docs name them.
var Roles = []Role{RoleAdmin, RoleAuthorizer, RoleStamper, RoleArchivist, RolePlatform}

// scoped reports whether keys of role r are limited to named seals.
func (r Role) scoped() bool { return r == RoleStamper || r == RoleAuthorizer }

// Scope is what a key's role reaches. Every key but a platform key belongs
// to one unit and reaches nothing of another unit's; stamper and authorizer
// keys reach the seals they name and no other (an empty list reaches none).
// Admin and archivist keys name no seals and reach their whole unit.
type Scope struct {
	// Unit is the key's unit; a key stored before units has none and
	// belongs to the first unit (read as such).
	Unit  string   `json:"unit,omitempty"`
	Seals []string `json:"seals"`
}

// APIKey is the stored description of an API key. The secret is never
// stored: the description is named by the secret's SHA-256.
type APIKey struct {
	// ID names the key in lists, the audit log and revocations (k-…).
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	Scope
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Revoked is read from the key's revocation object; nil while the key
	// is in force.
	Revoked *KeyRevocation `json:"revoked,omitempty"`
	// LegacyRoles are the roles of a key stored before keys had one role,
	// when no single role could be read from them; such a key has no Role
	// and is refused.
	LegacyRoles []Role `json:"legacy_roles,omitempty"`
}

// KeyRevocation says when and why a key was revoked.
type KeyRevocation struct {
	Time   time.Time `json:"time"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
}

// Reaches reports whether the key's scope includes the seal.
func (k *APIKey) Reaches(sealID string) bool {
	return !k.Role.scoped() || slices.Contains(k.Seals, sealID)
}

// Audit actions for API keys.
const (
	KeyCreated audit.Action = "apikey.created"
	KeyRevoked audit.Action = "apikey.revoked"
)

// In the store: apikeys/<sha256 of the secret>.json (the description, written
// once) and apikeys/revoked/<id>.json (the revocation, written once).
const (
	apiKeyPrefix     = "apikeys/"
	revocationPrefix = apiKeyPrefix + "revoked/"
)

// keyPrefix makes eseal keys recognisable in logs and secret scanners.
const keyPrefix = "esk_"

// The patterns are compiled on first use, not at start-up: most commands of
// the binary never look at an API key.
var (
	keyIDPattern       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^k-[a-z0-9]{16}$`) })
	descriptionPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^` + apiKeyPrefix + `([0-9a-f]{64})\.json$`)
	})
)

// ValidKeyID reports whether s has the form of an API key id.
func ValidKeyID(s string) bool { return keyIDPattern().MatchString(s) }

// KeySpecError says why a key cannot be created; Field names the part of
// the request at fault.
type KeySpecError struct {
	Field, Reason string
}

func (e *KeySpecError) Error() string { return "API key " + e.Field + ": " + e.Reason }

// KeyNotFoundError says that no key has the id.
type KeyNotFoundError struct{ ID string }

func (e *KeyNotFoundError) Error() string { return fmt.Sprintf("API key %q not found", e.ID) }

// KeySpec is what a new API key is for.
type KeySpec struct {
	Name  string
	Role  Role
	Seals []string
	// Unit is the key's unit ("" the first unit); none for a platform key.
	Unit string
	// CrossUnit lets a stamper key name seals of other units than its own,
	// for an approval system that stamps joint approvals: only a platform
	// key creates such keys.
	CrossUnit bool
	// By says who creates the key, for the audit log.
	By string
}

// Keyring keeps the API keys in the store.
type Keyring struct {
	Store archive.Store
	// Registry checks that a key's seals exist and takes the audit events.
	Registry *seal.Registry
	// Now defaults to time.Now.
	Now func() time.Time
	// Cache, if set, keeps the descriptions read (a server's, shared by
	// its requests); a key's revocation is read afresh every time.
	Cache *KeyCache
}

// KeyCache keeps API key descriptions a replica has read. A description
// is written once under the hash of its secret and never changed, so a
// cached one is what the store holds; what changes — a revocation, on any
// replica — is not cached. At most maxCachedKeys are kept; the cache is
// emptied when full. The zero value is ready.
type KeyCache struct {
	mu   sync.Mutex
	keys map[string]APIKey
}

const maxCachedKeys = 10_000

func (c *KeyCache) get(object string) (APIKey, bool) {
	if c == nil {
		return APIKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[object]
	k.Seals, k.LegacyRoles = slices.Clone(k.Seals), slices.Clone(k.LegacyRoles)
	return k, ok
}

func (c *KeyCache) put(object string, k APIKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = map[string]APIKey{}
	}
	c.keys[object] = k
}

func (kr Keyring) now() time.Time {
	if kr.Now != nil {
		return kr.Now().UTC()
	}
	return time.Now().UTC()
}

// check refuses a spec whose role is unknown, whose seals do not fit the
// role or do not exist, or whose name is unusable.
func (kr Keyring) check(ctx context.Context, spec KeySpec) error {
	if !slices.Contains(Roles, spec.Role) {
		return &KeySpecError{"role", fmt.Sprintf("%q: want one of admin, authorizer, stamper, archivist, platform", spec.Role)}
	}
	if spec.Role == RolePlatform && spec.Unit != "" {
		return &KeySpecError{"unit", "a platform key belongs to no unit"}
	}
	if spec.CrossUnit && spec.Role != RoleStamper {
		return &KeySpecError{"seals", "only a stamper key may name seals of other units"}
	}
	var unit *seal.Unit
	if spec.Role != RolePlatform {
		var err error
		if unit, err = kr.Registry.Unit(ctx, spec.Unit); err != nil {
			if nf := (*seal.UnitNotFoundError)(nil); errors.As(err, &nf) {
				return &KeySpecError{"unit", fmt.Sprintf("no unit %q", spec.Unit)}
			}
			return err
		}
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(spec.Name)); n == 0 || n > 100 || !utf8.ValidString(spec.Name) {
		return &KeySpecError{"name", "1 to 100 characters, saying who holds the key"}
	}
	switch {
	case spec.Role.scoped() && len(spec.Seals) == 0:
		return &KeySpecError{"seals", fmt.Sprintf("a %s key names the seals it may use", spec.Role)}
	case !spec.Role.scoped() && len(spec.Seals) != 0:
		return &KeySpecError{"seals", fmt.Sprintf("an %s key is not limited to seals", spec.Role)}
	}
	for i, id := range spec.Seals {
		if slices.Contains(spec.Seals[:i], id) {
			return &KeySpecError{"seals", fmt.Sprintf("%s is named twice", id)}
		}
		if !seal.ValidID(id) {
			return &KeySpecError{"seals", fmt.Sprintf("no seal %q", id)}
		}
		sl, err := kr.Registry.Get(ctx, id)
		if nf := (*seal.NotFoundError)(nil); errors.As(err, &nf) {
			return &KeySpecError{"seals", fmt.Sprintf("no seal %q", id)}
		}
		if err != nil {
			return err
		}
		if su, err := kr.Registry.UnitOf(ctx, sl); err != nil {
			return err
		} else if su.ID != unit.ID && !spec.CrossUnit {
			return &UnitScopeError{What: "name seal " + id + " in a key of unit " + unit.ID, Unit: su.ID}
		}
	}
	return nil
}

// UnitScopeError says that something of one unit was asked for by, or for,
// another unit.
type UnitScopeError struct {
	What string // what was refused
	Unit string // the unit the thing belongs to
}

func (e *UnitScopeError) Error() string {
	return fmt.Sprintf("may not %s: it belongs to unit %s", e.What, e.Unit)
}

// Create stores a new key and returns its description and its secret. The
// secret is shown once; only its hash is kept.
func (kr Keyring) Create(ctx context.Context, spec KeySpec) (*APIKey, string, error) {
	if err := kr.check(ctx, spec); err != nil {
		return nil, "", err
	}
	secret := keyPrefix + randomBase32(20)
	k := &APIKey{ID: "k-" + randomBase32(10), Name: strings.TrimSpace(spec.Name), Role: spec.Role,
		Scope: Scope{Seals: append([]string{}, spec.Seals...)}, Created: kr.now(), CreatedBy: spec.By}
	if spec.Role != RolePlatform {
		u, err := kr.Registry.Unit(ctx, spec.Unit)
		if err != nil {
			return nil, "", err
		}
		k.Unit = u.ID
	}
	desc, err := json.Marshal(k)
	if err != nil {
		return nil, "", err
	}
	if _, err := archive.PutBytesIfAbsent(ctx, kr.Store, descriptionKey(secret), desc); err != nil {
		return nil, "", err
	}
	// A key the log does not hold does not exist: its description goes.
	if err := kr.Registry.LogChange(ctx, seal.AuditEvent{Action: KeyCreated, Subject: k.ID, Actor: spec.By,
		Details: map[string]string{"name": k.Name, "role": string(k.Role), "unit": k.Unit, "seals": strings.Join(k.Seals, " ")}},
		descriptionKey(secret)); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// Lookup finds the description of a presented secret, with its revocation
// if it was revoked: callers refuse revoked keys.
func (kr Keyring) Lookup(ctx context.Context, secret string) (*APIKey, error) {
	if !strings.HasPrefix(secret, keyPrefix) || len(secret) > 128 {
		return nil, archive.ErrNotFound
	}
	return kr.read(ctx, descriptionKey(secret))
}

// List returns every key, revoked ones included, oldest first.
func (kr Keyring) List(ctx context.Context) ([]*APIKey, error) {
	var objs []string
	err := kr.Store.List(ctx, apiKeyPrefix, func(o archive.ObjectInfo) error {
		if descriptionPattern().MatchString(o.Key) {
			objs = append(objs, o.Key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*APIKey, 0, len(objs))
	for _, o := range objs {
		k, err := kr.read(ctx, o)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	slices.SortStableFunc(out, func(a, b *APIKey) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke withdraws a key for good. Revoking a revoked key changes nothing
// and returns it as it is.
func (kr Keyring) Revoke(ctx context.Context, id, reason, by string) (*APIKey, error) {
	if !ValidKeyID(id) {
		return nil, &KeyNotFoundError{id}
	}
	keys, err := kr.List(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(keys, func(k *APIKey) bool { return k.ID == id })
	if i < 0 {
		return nil, &KeyNotFoundError{id}
	}
	k := keys[i]
	if k.Revoked != nil {
		return k, nil
	}
	rev := KeyRevocation{Time: kr.now().Truncate(time.Second), By: by, Reason: reason}
	b, err := json.Marshal(rev)
	if err != nil {
		return nil, err
	}
	switch _, err := archive.PutBytesIfAbsent(ctx, kr.Store, revocationPrefix+id+".json", b); {
	case errors.Is(err, archive.ErrExists):
		// Revoked meanwhile by someone else: theirs is the revocation.
		return kr.withRevocation(ctx, k)
	case err != nil:
		return nil, err
	}
	// A revocation the log does not hold is not made: the key stays valid.
	if err := kr.Registry.LogChange(ctx, seal.AuditEvent{Action: KeyRevoked, Subject: id, Actor: by,
		Details: map[string]string{"name": k.Name, "role": string(k.Role), "reason": reason}},
		revocationPrefix+id+".json"); err != nil {
		return nil, err
	}
	k.Revoked = &rev
	return k, nil
}

// read loads a stored description, reading keys stored before keys had one
// role and an id as the keys they have become, and its revocation.
func (kr Keyring) read(ctx context.Context, object string) (*APIKey, error) {
	if k, ok := kr.Cache.get(object); ok {
		return kr.withRevocation(ctx, &k)
	}
	b, _, err := archive.GetBytes(ctx, kr.Store, object)
	if err != nil {
		return nil, err
	}
	var stored struct {
		APIKey
		Roles []Role `json:"roles"`
	}
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("API key %s: %w", object, err)
	}
	k := stored.APIKey
	if k.ID == "" {
		// The hash names the key for good, so its id can come from it.
		k.ID = "k-" + descriptionPattern().FindStringSubmatch(object)[1][:16]
	}
	if k.Role == "" {
		k.Role = legacyRole(stored.Roles)
		if k.Role == "" {
			k.LegacyRoles = stored.Roles
		}
	}
	if k.Seals == nil {
		k.Seals = []string{}
	}
	if k.Unit == "" && k.Role != RolePlatform && kr.Registry != nil {
		// A key stored before units: the first unit's.
		first, err := kr.Registry.FirstUnit(ctx)
		if err != nil {
			return nil, err
		}
		k.Unit = first.ID
	}
	k.Revoked = nil // read afresh, below and at every lookup
	kr.Cache.put(object, k)
	return kr.withRevocation(ctx, &k)
}

// legacyRole is the one role a key stored with a list of roles has now: an
// admin key stays an admin key (and loses what admin keys no longer do); a
// key with one role keeps it; any other mix has no single role. Its seals
// are read as they were stored, so an old stamper or authorizer key that
// named none (then: every seal) now reaches none.
func legacyRole(roles []Role) Role {
	switch {
	case slices.Contains(roles, RoleAdmin):
		return RoleAdmin
	case len(roles) == 1 && slices.Contains(Roles, roles[0]):
		return roles[0]
	}
	return ""
}

func (kr Keyring) withRevocation(ctx context.Context, k *APIKey) (*APIKey, error) {
	b, _, err := archive.GetBytes(ctx, kr.Store, revocationPrefix+k.ID+".json")
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return k, nil
	case err != nil:
		return nil, err
	}
	var rev KeyRevocation
	if err := json.Unmarshal(b, &rev); err != nil {
		return nil, fmt.Errorf("revocation of API key %s: %w", k.ID, err)
	}
	k.Revoked = &rev
	return k, nil
}

func descriptionKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return apiKeyPrefix + hex.EncodeToString(sum[:]) + ".json"
}

func randomBase32(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
