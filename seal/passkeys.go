package seal

// More than one passkey per person. A person's first passkey is registered
// at their enrolment (persons/<id>/passkey.json); an administrator may
// invite them to register more — a second phone, a security key, a new
// phone for a lost one — each with a one-time link of its own, and remove
// any passkey for good (a lost phone) without removing the person: their
// approvals made with it stay valid, later assertions by it are refused.
// In the store:
//
//	persons/<id>/passkeys/<SM3 of token>.json    a further credential; put-if-absent, so its token works once
//	persons/<id>/passkey-removed/<SM3 of id>.json the removal of a credential; written once, final
//	persons/<id>/counter-<SM3 of id, 16>/<MaxUint32 − n>
//	                                             a further credential's signature counter values, newest first
//	                                             (the first credential's are in counter-desc/, and counter/ before)

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/webauthn"

	"eseal/archive"
	"eseal/archive/audit"
)

// Audit actions of further passkeys.
const (
	PersonPasskeyInvited audit.Action = "person.passkey_invited"
	PersonPasskeyRemoved audit.Action = "person.passkey_removed"
)

// PasskeyRemoved is the reason of a PasskeyError for an assertion by a
// passkey that was removed.
const PasskeyRemoved PasskeyReason = "passkey-removed"

// personPasskey is one registered credential of a person.
type personPasskey struct {
	cred    *webauthn.Credential
	key     string // the object holding it
	counter string // the prefix of its counter values (descending keys)
	// legacyCounter is the first passkey's counter/ (ascending keys,
	// written before 2026-12-03); "" for a further passkey.
	legacyCounter string
	registered    time.Time
	removed       *passkeyRemoval
}

// passkeyRemoval is a credential's removal event.
type passkeyRemoval struct {
	CredentialID string `json:"credential_id"` // base64url
	StatusEvent
}

// PasskeyInfo describes a person's passkey.
type PasskeyInfo struct {
	// CredentialID is the credential's id, base64url without padding.
	CredentialID string    `json:"credential_id"`
	Registered   time.Time `json:"registered"`
	// First is the passkey registered at the person's enrolment.
	First   bool         `json:"first"`
	Removed *StatusEvent `json:"removed,omitempty"`
}

func credentialName(id []byte) string { return sm3Hex(id) }

// personPasskeys reads a person's registered credentials, removed ones
// included, the first first. It lists only the further passkeys and the
// removals (usually none), not the person's whole folder, whose counter
// values grow with every approval.
func (r *Registry) personPasskeys(ctx context.Context, p *Person) ([]*personPasskey, error) {
	var keys []archive.ObjectInfo
	switch info, err := r.store.Head(ctx, personKey(p.ID, "passkey.json")); {
	case err == nil:
		info.Key = personKey(p.ID, "passkey.json")
		keys = append(keys, info)
	case !errors.Is(err, archive.ErrNotFound):
		return nil, err
	}
	if err := r.store.List(ctx, personKey(p.ID, "passkeys/"), func(o archive.ObjectInfo) error {
		if strings.HasSuffix(o.Key, ".json") {
			keys = append(keys, o)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	removals := map[string]string{} // credential name → key
	removedPrefix := personKey(p.ID, "passkey-removed/")
	if err := r.store.List(ctx, removedPrefix, func(o archive.ObjectInfo) error {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, removedPrefix), ".json"); ok {
			removals[name] = o.Key
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []*personPasskey
	for _, o := range keys {
		var c webauthn.Credential
		if err := getJSON(ctx, r.store, o.Key, &c); err != nil {
			return nil, err
		}
		pk := &personPasskey{cred: &c, key: o.Key, counter: personKey(p.ID, "counter-desc/"), legacyCounter: personKey(p.ID, "counter/"),
			registered: o.ModTime.UTC()}
		if !strings.HasSuffix(o.Key, "/passkey.json") {
			pk.counter, pk.legacyCounter = personKey(p.ID, "counter-"+credentialName(c.ID)[:16]+"/"), ""
		}
		if k, ok := removals[credentialName(c.ID)]; ok {
			var rm passkeyRemoval
			if err := getJSON(ctx, r.store, k, &rm); err != nil {
				return nil, err
			}
			pk.removed = &rm
		}
		out = append(out, pk)
	}
	return out, nil
}

// passkeyOf finds a person's credential by its id.
func (r *Registry) passkeyOf(ctx context.Context, p *Person, id []byte) (*personPasskey, error) {
	pks, err := r.personPasskeys(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, pk := range pks {
		if string(pk.cred.ID) == string(id) {
			return pk, nil
		}
	}
	return nil, &PasskeyError{Reason: PasskeyUnknown, Detail: "the passkey is not one registered for person " + p.ID}
}

// PersonPasskeys lists a passkey person's passkeys, removed ones included.
func (r *Registry) PersonPasskeys(ctx context.Context, personID string) ([]PasskeyInfo, error) {
	p, err := r.Person(ctx, personID)
	if err != nil {
		return nil, err
	}
	pks, err := r.personPasskeys(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []PasskeyInfo{}
	for _, pk := range pks {
		out = append(out, pk.info())
	}
	return out, nil
}

// info describes the passkey.
func (pk *personPasskey) info() PasskeyInfo {
	info := PasskeyInfo{CredentialID: base64.RawURLEncoding.EncodeToString(pk.cred.ID), Registered: pk.registered,
		First: strings.HasSuffix(pk.key, "/passkey.json")}
	if pk.removed != nil {
		ev := pk.removed.StatusEvent
		info.Removed = &ev
	}
	return info
}

// InvitePasskey lets an enrolled passkey person register one more passkey:
// it returns the token of a one-time link (valid for ttl, 0: a day) at
// which they register it, as at their enrolment.
func (r *Registry) InvitePasskey(ctx context.Context, personID, by string, ttl time.Duration) (*Person, string, time.Time, error) {
	p, err := r.Person(ctx, personID)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	switch {
	case p.Removed != nil:
		return nil, "", time.Time{}, &PersonError{ID: p.ID, Reason: PersonRemoved, Detail: "removed at " + p.Removed.Time.Format(time.RFC3339)}
	case p.Method != MethodPasskey:
		return nil, "", time.Time{}, &InvalidError{"person " + p.ID + " approves with an SM2 certificate, not a passkey"}
	case p.State != PersonActive:
		return nil, "", time.Time{}, &InvalidError{"person " + p.ID + " has not registered the passkey of their enrolment yet"}
	}
	if ttl <= 0 {
		ttl = DefaultEnrolmentTTL
	}
	exp := r.now().UTC().Truncate(time.Second).Add(ttl)
	token := randomID(20)
	key := enrolmentPrefix + sm3Hex([]byte(token)) + ".json"
	if err := putJSON(ctx, r.store, key, enrolment{PersonID: p.ID, ExpiresAt: exp, Additional: true}); err != nil {
		return nil, "", time.Time{}, err
	}
	if err := r.logged(ctx, AuditEvent{Action: PersonPasskeyInvited, Subject: p.ID, Actor: by, Details: map[string]string{
		"seal": p.SealID, "name": p.Name, "expires": exp.Format(time.RFC3339)}}, key); err != nil {
		return nil, "", time.Time{}, err
	}
	return p, token, exp, nil
}

// RemovePasskey removes one of a person's passkeys for good: assertions by
// it are refused from now on; approvals made with it before stay valid.
func (r *Registry) RemovePasskey(ctx context.Context, personID, credentialID, reason, by string) (*PasskeyInfo, error) {
	p, err := r.Person(ctx, personID)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(reason) > 512 {
		return nil, &InvalidError{"reason is longer than 512 characters"}
	}
	id, err := base64.RawURLEncoding.DecodeString(credentialID)
	if err != nil || len(id) == 0 || len(id) > 1023 {
		return nil, &PasskeyError{Reason: PasskeyUnknown, Detail: "credential_id: a credential id in base64url"}
	}
	pk, err := r.passkeyOf(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if pk.removed != nil {
		return nil, &PasskeyError{Reason: PasskeyRemoved, Detail: "the passkey was removed at " + pk.removed.Time.Format(time.RFC3339)}
	}
	rm := passkeyRemoval{CredentialID: credentialID, StatusEvent: StatusEvent{Status: "removed", Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}}
	key := personKey(p.ID, "passkey-removed/"+credentialName(id)+".json")
	if err := putJSON(ctx, r.store, key, rm); errors.Is(err, archive.ErrExists) {
		return nil, &PasskeyError{Reason: PasskeyRemoved, Detail: "the passkey was removed already"}
	} else if err != nil {
		return nil, err
	}
	if err := r.logged(ctx, AuditEvent{Action: PersonPasskeyRemoved, Subject: p.ID, Actor: by, Details: map[string]string{
		"seal": p.SealID, "name": p.Name, "credential_id": credentialID, "reason": reason}}, key); err != nil {
		return nil, err
	}
	r.keep(ctx, key)
	pk.removed = &rm
	info := pk.info()
	return &info, nil
}

// inForceAt says whether pk may have made an approval at t (to the second):
// it was not removed before. An approval refuses a removed passkey, so one
// made in the second of the removal came first.
func (pk *personPasskey) inForceAt(t time.Time) error {
	if pk.removed != nil && pk.removed.Time.Before(t.Truncate(time.Second)) {
		return fmt.Errorf("the passkey was removed at %s", pk.removed.Time.Format(time.RFC3339))
	}
	return nil
}
