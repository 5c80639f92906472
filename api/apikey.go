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
	"slices"
	"strings"
	"time"

	"eseal/archive"
)

// Role is what an API key may do.
type Role string

// Roles (docs/architecture.md, "Who uses it"). An admin key may act in every role.
const (
	RoleAdmin      Role = "admin"
	RoleAuthorizer Role = "authorizer"
	RoleStamper    Role = "stamper"
	RoleArchivist  Role = "archivist"
)

// APIKey is the stored description of an API key. The key itself is never
// stored: the object is named by its SHA-256.
type APIKey struct {
	Name    string    `json:"name"`
	Roles   []Role    `json:"roles"`
	Seals   []string  `json:"seals,omitempty"` // for authorizers: the seals they may authorize; empty means all
	Created time.Time `json:"created"`
}

// Allows reports whether the key may act in role r (for seal, when r is
// RoleAuthorizer and seal is not empty).
func (k *APIKey) Allows(r Role, seal string) bool {
	if slices.Contains(k.Roles, RoleAdmin) {
		return true
	}
	if !slices.Contains(k.Roles, r) {
		return false
	}
	return r != RoleAuthorizer || seal == "" || len(k.Seals) == 0 || slices.Contains(k.Seals, seal)
}

const apiKeyPrefix = "apikeys/"

// keyPrefix makes eseal keys recognisable in logs and secret scanners.
const keyPrefix = "esk_"

// CreateAPIKey makes a new API key with the given roles and returns it. It is
// shown once; only its hash is kept.
func CreateAPIKey(ctx context.Context, store archive.Store, name string, roles []Role, seals []string, now time.Time) (string, error) {
	if len(roles) == 0 {
		return "", errors.New("an API key needs at least one role")
	}
	for _, r := range roles {
		switch r {
		case RoleAdmin, RoleAuthorizer, RoleStamper, RoleArchivist:
		default:
			return "", fmt.Errorf("unknown role %q", r)
		}
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	key := keyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	desc, err := json.Marshal(APIKey{Name: name, Roles: roles, Seals: seals, Created: now.UTC()})
	if err != nil {
		return "", err
	}
	if _, err := archive.PutBytesIfAbsent(ctx, store, apiKeyPrefix+hashKey(key)+".json", desc); err != nil {
		return "", err
	}
	return key, nil
}

// LookupAPIKey finds the description of a presented key.
func LookupAPIKey(ctx context.Context, store archive.Store, key string) (*APIKey, error) {
	if !strings.HasPrefix(key, keyPrefix) || len(key) > 128 {
		return nil, archive.ErrNotFound
	}
	b, _, err := archive.GetBytes(ctx, store, apiKeyPrefix+hashKey(key)+".json")
	if err != nil {
		return nil, err
	}
	var k APIKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
