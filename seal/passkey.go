package seal

// Passkeys (WebAuthn): the credential a responsible person holds on a phone.
// An administrator enrols the person, who is "enrolling" until they open the
// one-time enrolment URL and register a passkey there; from then on they
// approve or refuse on the request's approval page.
//
// The WebAuthn challenge of an approval is SM3 of the grant bytes, of a
// refusal SM3 of the refusal bytes (RefusalBytes): the assertion binds
// exactly what the person decided, as an SM2 signature does, and no
// challenge needs keeping between the page and the answer. In the store:
//
//	enrolments/<SM3 of token>.json   the one-time enrolment token: person and expiry
//	persons/<id>/passkey.json        the registered credential; put-if-absent, so a token works once
//	persons/<id>/counter-desc/<MaxUint32 − n>
//	                                 each signature counter value seen, put-if-absent, newest
//	                                 first: a counter that does not grow means a cloned
//	                                 authenticator or a replay (counter/<n>: the same, ascending,
//	                                 before 2026-12-03)
//	authz/<az>/evidence/grant.bin, authenticator-data.bin, client-data.json, signature.bin,
//	                    credential.cose, credential-id.bin
//	                                 the approved bytes and the raw assertion, as received, and the
//	                                 credential's COSE public key that checks it
//
// The relying party is the service's public URL: its host is the RP id, its
// scheme and host the one origin accepted.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"eseal/archive"
	"eseal/archive/audit"
)

// MethodPasskey is an approval by a responsible person's passkey.
const MethodPasskey Method = "passkey"

// Person states. A passkey person is enrolling until their passkey is
// registered; an SM2 person is enrolled from the start.
const (
	PersonEnrolling = "enrolling"
	PersonActive    = "enrolled"
)

// PersonPasskeyRegistered is the audit action of a passkey's registration.
const PersonPasskeyRegistered audit.Action = "person.passkey_registered"

// DefaultEnrolmentTTL is how long an enrolment URL works.
const DefaultEnrolmentTTL = 24 * time.Hour

// MaxPasskeyResponse bounds a WebAuthn response a client sends.
const MaxPasskeyResponse = 16 << 10

const enrolmentPrefix = "enrolments/"

var enrolmentTokenPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z2-7]{32}$`) })

// PasskeyReason says why a passkey enrolment or assertion was refused.
type PasskeyReason string

// Reasons a passkey step is refused. Each maps to its own problem type.
const (
	EnrolmentNotFound PasskeyReason = "enrolment-not-found"
	EnrolmentExpired  PasskeyReason = "enrolment-expired"
	EnrolmentUsed     PasskeyReason = "enrolment-used"
	PasskeyInvalid    PasskeyReason = "passkey-invalid"
	PasskeyUnknown    PasskeyReason = "passkey-unknown"
	PasskeyReplayed   PasskeyReason = "passkey-replayed"
)

// PasskeyError says why a passkey enrolment or assertion was refused.
type PasskeyError struct {
	Reason PasskeyReason
	Detail string
}

func (e *PasskeyError) Error() string { return fmt.Sprintf("passkey: %s: %s", e.Reason, e.Detail) }

// RelyingParty is eseal as a WebAuthn relying party.
type RelyingParty struct {
	// ID is the RP id (the public URL's host), Origin the one origin accepted.
	ID, Origin string
	wa         *webauthn.WebAuthn
}

// NewRelyingParty derives the relying party from the service's public URL.
func NewRelyingParty(publicURL string) (*RelyingParty, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, &InvalidError{"public_url: passkeys need an http(s) URL with a host"}
	}
	origin := u.Scheme + "://" + u.Host
	wa, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "eseal", RPOrigins: []string{origin}})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &RelyingParty{ID: u.Hostname(), Origin: origin, wa: wa}, nil
}

// passkeyUser is a person as go-webauthn sees one; the user handle is the
// person id.
type passkeyUser struct {
	p     *Person
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return []byte(u.p.ID) }
func (u passkeyUser) WebAuthnName() string                       { return u.p.Name + " (" + u.p.ID + ")" }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.p.Name }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

type enrolment struct {
	PersonID  string    `json:"person_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// Additional: the link of a further passkey of an enrolled person
	// (InvitePasskey), not of their enrolment.
	Additional bool `json:"additional,omitempty"`
}

// EnrolPasskeyPerson enrols a responsible person who will register a
// passkey, and returns the one-time token of their enrolment URL. The token
// is returned once; the store keeps its SM3 only.
func (r *Registry) EnrolPasskeyPerson(ctx context.Context, spec PersonSpec, ttl time.Duration) (*Person, string, error) {
	s, err := r.Get(ctx, spec.SealID)
	if err != nil {
		return nil, "", err
	}
	if s.Status == Revoked {
		return nil, "", &StateError{ID: s.ID, Status: s.Status, Reason: "no one can be enrolled for a revoked seal"}
	}
	spec.Name = strings.TrimSpace(spec.Name)
	if !validName(spec.Name, 64) {
		return nil, "", &InvalidError{"name: 1–64 characters, no control characters"}
	}
	if ttl <= 0 {
		ttl = DefaultEnrolmentTTL
	}
	now := r.now().UTC().Truncate(time.Second)
	exp := now.Add(ttl)
	p := &Person{ID: "p-" + randomID(10), SealID: s.ID, Name: spec.Name, Method: MethodPasskey,
		Enrolled: now, EnrolledBy: spec.By, EnrolmentExpires: &exp}
	token := randomID(20)
	// The token first: a person.json without it could never register.
	if err := putJSON(ctx, r.store, enrolmentPrefix+sm3Hex([]byte(token))+".json", enrolment{PersonID: p.ID, ExpiresAt: exp}); err != nil {
		return nil, "", err
	}
	if err := putJSON(ctx, r.store, personKey(p.ID, "person.json"), p); err != nil {
		return nil, "", err
	}
	p.State = PersonEnrolling
	// Not in the log, not enrolled: the person and the token go.
	if err := r.LogChange(ctx, AuditEvent{Action: PersonEnrolled, Subject: p.ID, Actor: spec.By, Details: map[string]string{
		"seal": p.SealID, "name": p.Name, "method": string(p.Method), "state": p.State, "enrolment_expires": exp.Format(time.RFC3339)}},
		personKey(p.ID, "person.json"), enrolmentPrefix+sm3Hex([]byte(token))+".json"); err != nil {
		return nil, "", err
	}
	r.keep(ctx, personKey(p.ID, "person.json"))
	return p, token, nil
}

// passkeyState sets a passkey person's state from their credential object.
func (r *Registry) passkeyState(ctx context.Context, p *Person) error {
	switch _, err := r.store.Head(ctx, personKey(p.ID, "passkey.json")); {
	case err == nil:
		p.State = PersonActive
	case errors.Is(err, archive.ErrNotFound):
		p.State = PersonEnrolling
	default:
		return err
	}
	return nil
}

// PasskeyEnrolment returns the person an enrolment token enrols, while the
// token is unused and unexpired.
func (r *Registry) PasskeyEnrolment(ctx context.Context, token string) (*Person, error) {
	p, _, err := r.passkeyEnrolment(ctx, token)
	return p, err
}

// passkeyEnrolment is PasskeyEnrolment, with the key the token's passkey
// is registered under.
func (r *Registry) passkeyEnrolment(ctx context.Context, token string) (*Person, string, error) {
	notFound := &PasskeyError{Reason: EnrolmentNotFound, Detail: "no such enrolment; ask the administrator for a new link"}
	if !enrolmentTokenPattern().MatchString(token) {
		return nil, "", notFound
	}
	var e enrolment
	if err := getJSON(ctx, r.store, enrolmentPrefix+sm3Hex([]byte(token))+".json", &e); errors.Is(err, archive.ErrNotFound) {
		return nil, "", notFound
	} else if err != nil {
		return nil, "", err
	}
	p, err := r.Person(ctx, e.PersonID)
	if err != nil {
		return nil, "", err
	}
	used := &PasskeyError{Reason: EnrolmentUsed, Detail: "this enrolment link was used already"}
	key := personKey(p.ID, "passkey.json")
	if e.Additional {
		key = personKey(p.ID, "passkeys/"+sm3Hex([]byte(token))+".json")
		switch _, err := r.store.Head(ctx, key); {
		case err == nil:
			return nil, "", used
		case !errors.Is(err, archive.ErrNotFound):
			return nil, "", err
		}
	}
	switch {
	case p.Removed != nil:
		return nil, "", &PersonError{ID: p.ID, Reason: PersonRemoved, Detail: "removed at " + p.Removed.Time.Format(time.RFC3339)}
	case !e.Additional && p.State != PersonEnrolling:
		return nil, "", used
	case r.now().After(e.ExpiresAt):
		return nil, "", &PasskeyError{Reason: EnrolmentExpired, Detail: "the enrolment link expired at " + e.ExpiresAt.Format(time.RFC3339)}
	}
	return p, key, nil
}

// enrolmentChallenge is the registration challenge of a token: derived, not
// stored, and as single-use as the token.
func enrolmentChallenge(token string) []byte {
	sum := sm3.Sum([]byte("eseal passkey enrolment v1\n" + token))
	return sum[:]
}

// PasskeyChallenge is the WebAuthn challenge that binds msg (grant or
// refusal bytes): its SM3.
func PasskeyChallenge(msg []byte) []byte {
	sum := sm3.Sum(msg)
	return sum[:]
}

// CreationOptions are what the enrolment page passes to
// navigator.credentials.create: a discoverable, user-verified passkey.
func (rp *RelyingParty) CreationOptions(p *Person, token string) (*protocol.CredentialCreation, *webauthn.SessionData, error) {
	cc, sess, err := rp.wa.BeginRegistration(passkeyUser{p: p},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, nil, err
	}
	ch := protocol.URLEncodedBase64(enrolmentChallenge(token))
	cc.Response.Challenge, sess.Challenge = ch, ch.String()
	return cc, sess, nil
}

// RegisterPasskey checks a registration response to the enrolment token's
// options and stores the credential. The first registration wins; the token
// is spent.
func (r *Registry) RegisterPasskey(ctx context.Context, rp *RelyingParty, token string, response []byte) (*Person, error) {
	p, key, err := r.passkeyEnrolment(ctx, token)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, &PasskeyError{Reason: PasskeyInvalid, Detail: "registration: " + webauthnDetail(err)}
	}
	_, sess, err := rp.CreationOptions(p, token)
	if err != nil {
		return nil, err
	}
	cred, err := rp.wa.CreateCredential(passkeyUser{p: p}, *sess, parsed)
	if err != nil {
		return nil, &PasskeyError{Reason: PasskeyInvalid, Detail: "registration: " + webauthnDetail(err)}
	}
	// One credential is one passkey: registered twice it would have two
	// counters and two removals.
	if existing, err := r.personPasskeys(ctx, p); err != nil {
		return nil, err
	} else {
		for _, pk := range existing {
			if string(pk.cred.ID) == string(cred.ID) {
				return nil, &PasskeyError{Reason: PasskeyInvalid, Detail: "registration: this passkey is registered for the person already"}
			}
		}
	}
	if err := putJSON(ctx, r.store, key, cred); errors.Is(err, archive.ErrExists) {
		return nil, &PasskeyError{Reason: EnrolmentUsed, Detail: "this enrolment link was used already"}
	} else if err != nil {
		return nil, err
	}
	// Undone when the log cannot hold it: the enrolment link works again.
	if err := r.logged(ctx, AuditEvent{Action: PersonPasskeyRegistered, Subject: p.ID, Actor: p.ID, Details: map[string]string{
		"seal": p.SealID, "name": p.Name, "credential_id": base64.RawURLEncoding.EncodeToString(cred.ID), "rp_id": rp.ID}},
		key); err != nil {
		return nil, err
	}
	p.State = PersonActive
	return p, nil
}

// sealPasskey is a registered passkey of a seal's person.
type sealPasskey struct {
	person *Person
	*personPasskey
}

// sealPasskeys returns the registered passkeys of a seal's persons, removed
// persons and removed passkeys included (so that their assertions are
// refused as theirs).
func (r *Registry) sealPasskeys(ctx context.Context, sealID string) ([]sealPasskey, error) {
	ps, err := r.Persons(ctx, sealID)
	if err != nil {
		return nil, err
	}
	var out []sealPasskey
	for _, p := range ps {
		if p.Method != MethodPasskey || p.State != PersonActive {
			continue
		}
		pks, err := r.personPasskeys(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, pk := range pks {
			out = append(out, sealPasskey{p, pk})
		}
	}
	return out, nil
}

// ApprovalMethods lists how the seal's persons who can approve do it: the
// methods of its enrolled, not removed, persons.
func (r *Registry) ApprovalMethods(ctx context.Context, sealID string) ([]Method, error) {
	ps, err := r.Persons(ctx, sealID)
	if err != nil {
		return nil, err
	}
	out := []Method{}
	for _, m := range []Method{MethodSM2, MethodPasskey} {
		for _, p := range ps {
			if p.Method == m && p.Removed == nil && p.State == PersonActive {
				out = append(out, m)
				break
			}
		}
	}
	return out, nil
}

// AssertionOptions are what the approval page passes to
// navigator.credentials.get to approve (msg the grant bytes) or refuse (msg
// the refusal bytes) a request: the challenge binds msg, and the passkeys
// allowed are those of the seal's enrolled persons.
func (r *Registry) AssertionOptions(ctx context.Context, rp *RelyingParty, st *RequestState, msg []byte) (*protocol.CredentialAssertion, error) {
	pks, err := r.sealPasskeys(ctx, st.SealID)
	if err != nil {
		return nil, err
	}
	var allow []protocol.CredentialDescriptor
	for _, pk := range pks {
		if pk.person.Removed == nil && pk.removed == nil {
			allow = append(allow, pk.cred.Descriptor())
		}
	}
	if len(allow) == 0 {
		return nil, &RequestError{ID: st.RequestID, Reason: RequestNoPerson, Detail: "no responsible person of seal " + st.SealID + " has a passkey"}
	}
	a, _, err := rp.wa.BeginDiscoverableLogin(webauthn.WithChallenge(PasskeyChallenge(msg)),
		webauthn.WithAllowedCredentials(allow), webauthn.WithUserVerification(protocol.VerificationRequired))
	return a, err
}

// passkeyAssertion is a checked assertion: whose it is and its raw parts.
type passkeyAssertion struct {
	person            *Person
	authenticatorData []byte
	clientDataJSON    []byte
	signature         []byte
	credentialID      []byte
}

// checkAssertion verifies a WebAuthn assertion over msgOf(request) by a passkey of a
// person who may decide the request: origin, RP id, user presence and
// verification, the signature with the enrolled credential, and a signature
// counter that grows.
func (r *Registry) checkAssertion(ctx context.Context, rp *RelyingParty, requestID string, response []byte, msgOf func(*RequestState) []byte) (*RequestState, *passkeyAssertion, error) {
	if len(response) > MaxPasskeyResponse {
		return nil, nil, &PasskeyError{Reason: PasskeyInvalid, Detail: fmt.Sprintf("the assertion is larger than %d bytes", MaxPasskeyResponse)}
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, nil, &PasskeyError{Reason: PasskeyInvalid, Detail: "assertion: " + webauthnDetail(err)}
	}
	st, err := r.AuthorizationRequest(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	pks, err := r.sealPasskeys(ctx, st.SealID)
	if err != nil {
		return nil, nil, err
	}
	var p *Person
	var pk *personPasskey
	for _, c := range pks {
		if string(c.cred.ID) == string(parsed.RawID) {
			p, pk = c.person, c.personPasskey
		}
	}
	if p == nil {
		return nil, nil, &PasskeyError{Reason: PasskeyUnknown, Detail: "the passkey is not one enrolled for seal " + st.SealID}
	}
	if pk.removed != nil {
		return nil, nil, &PasskeyError{Reason: PasskeyRemoved, Detail: "this passkey of " + p.Name + " was removed at " + pk.removed.Time.Format(time.RFC3339)}
	}
	cred := pk.cred
	st, p, err = r.decidable(ctx, requestID, p.ID)
	if err != nil {
		return nil, nil, err
	}
	user := passkeyUser{p: p, creds: []webauthn.Credential{*cred}}
	_, sess, err := rp.wa.BeginLogin(user, webauthn.WithChallenge(PasskeyChallenge(msgOf(st))), webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, err
	}
	if _, err := rp.wa.ValidateLogin(user, *sess, parsed); err != nil {
		return nil, nil, &PasskeyError{Reason: PasskeyInvalid, Detail: webauthnDetail(err)}
	}
	if err := r.advanceCounter(ctx, pk, parsed.Response.AuthenticatorData.Counter); err != nil {
		return nil, nil, err
	}
	raw := parsed.Raw.AssertionResponse
	return st, &passkeyAssertion{person: p, authenticatorData: raw.AuthenticatorData, clientDataJSON: raw.ClientDataJSON,
		signature: raw.Signature, credentialID: parsed.RawID}, nil
}

// advanceCounter records the assertion's signature counter; it must exceed
// every value seen before. Authenticators that keep no counter send 0
// always, and are let through while no counter was ever seen.
//
// Values are kept as keys in descending order (MaxUint32 − n, zero-padded):
// a listing's first key is the highest value, and the listing stops there,
// however many approvals the passkey made. The first passkey's values
// written before that are ascending keys under counter/ (legacy), listed in
// full; that series no longer grows.
func (r *Registry) advanceCounter(ctx context.Context, pk *personPasskey, n uint32) error {
	seen := pk.cred.Authenticator.SignCount
	if pk.legacyCounter != "" {
		err := r.store.List(ctx, pk.legacyCounter, func(o archive.ObjectInfo) error {
			var v uint32
			if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, pk.legacyCounter), "%d", &v); err == nil && v > seen {
				seen = v
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	err := r.store.List(ctx, pk.counter, func(o archive.ObjectInfo) error {
		var inv uint32
		if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, pk.counter), "%d", &inv); err != nil {
			return nil
		}
		if v := math.MaxUint32 - inv; v > seen {
			seen = v
		}
		return archive.ErrStopListing // the first key is the highest value
	})
	if err != nil && !errors.Is(err, archive.ErrStopListing) {
		return err
	}
	if n == 0 && seen == 0 {
		return nil
	}
	replayed := &PasskeyError{Reason: PasskeyReplayed, Detail: fmt.Sprintf("the authenticator's signature counter %d does not exceed %d, seen before: a replayed assertion or a cloned passkey", n, seen)}
	if n <= seen {
		return replayed
	}
	if err := putObject(ctx, r.store, fmt.Sprintf("%s%010d", pk.counter, math.MaxUint32-n), nil); errors.Is(err, archive.ErrExists) {
		return replayed
	} else if err != nil {
		return err
	}
	return nil
}

// passkeyDecision is the decision an assertion makes.
func (r *Registry) passkeyDecision(outcome RequestStatus, a *passkeyAssertion, reason string) Decision {
	return Decision{Outcome: outcome, PersonID: a.person.ID, PersonName: a.person.Name, Method: MethodPasskey,
		Signature: a.signature, AuthenticatorData: a.authenticatorData, ClientDataJSON: a.clientDataJSON, CredentialID: a.credentialID,
		Reason: reason, Time: r.now().UTC().Truncate(time.Second)}
}

// ApprovePasskey records a person's approval made with their passkey on the
// approval page: an assertion whose challenge is SM3 of the request's grant
// bytes. Of concurrent decisions exactly one is recorded.
func (r *Registry) ApprovePasskey(ctx context.Context, rp *RelyingParty, requestID string, response []byte) (*Authorization, error) {
	st, a, err := r.checkAssertion(ctx, rp, requestID, response, func(st *RequestState) []byte { return st.Challenge })
	if err != nil {
		return nil, err
	}
	return r.approve(ctx, st, a.person, r.passkeyDecision(RequestApproved, a, ""))
}

// RefusePasskey records a person's refusal made with their passkey: an
// assertion whose challenge is SM3 of RefusalBytes(grant, reason).
func (r *Registry) RefusePasskey(ctx context.Context, rp *RelyingParty, requestID, reason string, response []byte) (*RequestState, error) {
	reason = strings.TrimSpace(reason)
	if !validName(reason, 512) {
		return nil, &InputError{"reason", "1–512 characters, no control characters"}
	}
	st, a, err := r.checkAssertion(ctx, rp, requestID, response, func(st *RequestState) []byte { return RefusalBytes(st.Challenge, reason) })
	if err != nil {
		return nil, err
	}
	return r.refuse(ctx, st, a.person, r.passkeyDecision(RequestRefused, a, reason))
}

// passkeyEvidence lists the evidence objects of a passkey approval.
func (r *Registry) passkeyEvidence(ctx context.Context, st *RequestState, p *Person) ([]evidenceObject, error) {
	d := st.Decision
	pk, err := r.passkeyOf(ctx, p, d.CredentialID)
	if err != nil {
		return nil, err
	}
	cred := pk.cred
	return []evidenceObject{
		{"grant.bin", st.Challenge}, {"authenticator-data.bin", d.AuthenticatorData}, {"client-data.json", d.ClientDataJSON},
		{"signature.bin", d.Signature}, {"credential.cose", cred.PublicKey}, {"credential-id.bin", d.CredentialID},
	}, nil
}

// readPasskeyEvidence reads a passkey grant's evidence and checks it as
// anyone could offline.
func (r *Registry) readPasskeyEvidence(ctx context.Context, ev *Evidence) error {
	var err error
	for _, o := range []struct {
		name string
		dst  *[]byte
	}{{"grant.bin", &ev.Grant}, {"authenticator-data.bin", &ev.AuthenticatorData}, {"client-data.json", &ev.ClientDataJSON},
		{"signature.bin", &ev.Signature}, {"credential.cose", &ev.CredentialPublicKey}, {"credential-id.bin", &ev.CredentialID}} {
		if *o.dst, err = getObject(ctx, r.store, authzKey(ev.AuthorizationID, "evidence/"+o.name), maxGrantBytes); err != nil {
			return fmt.Errorf("authorization %s evidence %s: %w", ev.AuthorizationID, o.name, err)
		}
	}
	g, err := ParseGrant(ev.Grant)
	if err != nil || g.AuthorizationID != ev.AuthorizationID {
		return &AuthzError{ID: ev.AuthorizationID, Reason: AuthzBadSignature, Detail: "the stored grant is not this authorization's"}
	}
	if err := VerifyPasskeyEvidence(ev.Grant, ev.AuthenticatorData, ev.ClientDataJSON, ev.Signature, ev.CredentialPublicKey); err != nil {
		return &AuthzError{ID: ev.AuthorizationID, Reason: AuthzBadSignature, Detail: "the stored evidence does not verify: " + err.Error()}
	}
	return nil
}

// VerifyPasskeyEvidence checks a passkey approval without eseal: the client
// data is a WebAuthn assertion whose challenge is SM3 of grant, the
// authenticator saw the user present and verified, and the signature over
// authenticatorData ‖ SHA-256(clientDataJSON) verifies with the credential's
// COSE public key.
func VerifyPasskeyEvidence(grant, authenticatorData, clientDataJSON, signature, coseKey []byte) error {
	var cd protocol.CollectedClientData
	if err := json.Unmarshal(clientDataJSON, &cd); err != nil {
		return fmt.Errorf("client data: %w", err)
	}
	if cd.Type != protocol.AssertCeremony {
		return fmt.Errorf("client data type %q, not an assertion", cd.Type)
	}
	if cd.Challenge != base64.RawURLEncoding.EncodeToString(PasskeyChallenge(grant)) {
		return errors.New("the assertion's challenge is not SM3 of the grant bytes")
	}
	if len(authenticatorData) < 37 {
		return errors.New("authenticator data too short")
	}
	if flags := protocol.AuthenticatorFlags(authenticatorData[32]); !flags.UserPresent() || !flags.UserVerified() {
		return errors.New("the authenticator did not see the user present and verified")
	}
	key, err := webauthncose.ParsePublicKey(coseKey)
	if err != nil {
		return fmt.Errorf("credential public key: %w", err)
	}
	h := sha256.Sum256(clientDataJSON)
	ok, err := webauthncose.VerifySignature(key, append(append([]byte{}, authenticatorData...), h[:]...), signature)
	if err != nil || !ok {
		return errors.New("the signature does not verify with the credential's public key")
	}
	return nil
}

// webauthnDetail is the most telling text of a go-webauthn error.
func webauthnDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.DevInfo != "" {
			return pe.Details + ": " + pe.DevInfo
		}
		return pe.Details
	}
	return err.Error()
}
