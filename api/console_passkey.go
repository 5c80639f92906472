package api

// Passkeys for the console. An archivist signed in with their key registers
// one passkey for it (/console/passkey); from then on the sign-in page also
// signs them in with that passkey, as the key it was registered for: the
// key must still be in force and an archivist key, so revoking the key ends
// its passkey too. The passkey's user handle is the key's id; the stored
// credential (apikeys/passkeys/<key id>.json, written once) names the key's
// description object, which is what a session holds.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/seal"
)

// KeyPasskeyRegistered is logged when a passkey is registered for an
// archivist key.
const KeyPasskeyRegistered audit.Action = "apikey.passkey_registered"

// keyPasskey is the stored passkey of an API key.
type keyPasskey struct {
	KeyID      string              `json:"key_id"`
	KeyObject  string              `json:"key_object"`
	Credential webauthn.Credential `json:"credential"`
	Created    time.Time           `json:"created"`
}

func keyPasskeyObject(keyID string) string { return apiKeyPrefix + "passkeys/" + keyID + ".json" }

// keyUser is an API key as go-webauthn sees a user.
type keyUser struct {
	k     *APIKey
	creds []webauthn.Credential
}

func (u keyUser) WebAuthnID() []byte                         { return []byte(u.k.ID) }
func (u keyUser) WebAuthnName() string                       { return u.k.Name + " (" + u.k.ID + ")" }
func (u keyUser) WebAuthnDisplayName() string                { return u.k.Name }
func (u keyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// consoleWebAuthn is the relying party of the console: the public URL's
// host and origin, user verification required.
func (s *Server) consoleWebAuthn() (*webauthn.WebAuthn, error) {
	u, err := url.Parse(s.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, errors.New("passkeys need public_url (an http(s) URL with a host)")
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, errors.New("passkeys need public_url to name the host by a domain name, not an IP address")
	}
	return webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "eseal", RPOrigins: []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}})
}

// keyPasskeyOf reads the passkey registered for a key, nil if none.
func (s *Server) keyPasskeyOf(r *http.Request, keyID string) (*keyPasskey, error) {
	b, _, err := archive.GetBytes(r.Context(), s.Store, keyPasskeyObject(keyID))
	if errors.Is(err, archive.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var kp keyPasskey
	if err := json.Unmarshal(b, &kp); err != nil {
		return nil, fmt.Errorf("passkey of API key %s: %w", keyID, err)
	}
	return &kp, nil
}

type consolePasskeyView struct {
	Registered *keyPasskey
	Options    any
	Nonce      string
	Problem    string
}

// consolePasskeyPage shows the key's passkey, or offers to register one.
func (s *Server) consolePasskeyPage(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	kp, err := s.keyPasskeyOf(r, cr.key.ID)
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	v := consolePasskeyView{Registered: kp, Nonce: newNonce()}
	if kp == nil {
		wa, err := s.consoleWebAuthn()
		if err != nil {
			v.Problem = err.Error()
		} else {
			cc, sd, err := wa.BeginRegistration(keyUser{k: cr.key},
				webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
					ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
					UserVerification: protocol.VerificationRequired}),
				webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
			if err != nil {
				s.consoleFail(w, r, err)
				return
			}
			s.consoleSessions.setRegistration(cr.id, sd)
			v.Options = cc
		}
	}
	s.consolePage(w, http.StatusOK, "passkey", cr, &v)
}

// consolePasskeyRegister checks a registration response to the options the
// session was given and stores the credential; a key has one passkey.
func (s *Server) consolePasskeyRegister(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	body, p := readPasskeyBody(w, r)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	sd := s.consoleSessions.takeRegistration(cr.id)
	if sd == nil {
		writeProblem(w, r, newProblem("passkey-invalid", "no registration was begun in this session: open the passkey page again"))
		return
	}
	wa, err := s.consoleWebAuthn()
	if err != nil {
		writeProblem(w, r, newProblem("passkeys-unavailable", err.Error()))
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		writeProblem(w, r, newProblem("passkey-invalid", "registration: "+webauthnError(err)))
		return
	}
	cred, err := wa.CreateCredential(keyUser{k: cr.key}, *sd, parsed)
	if err != nil {
		writeProblem(w, r, newProblem("passkey-invalid", "registration: "+webauthnError(err)))
		return
	}
	b, err := json.Marshal(keyPasskey{KeyID: cr.key.ID, KeyObject: cr.keyObject, Credential: *cred, Created: s.now().UTC()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch _, err := archive.PutBytesIfAbsent(r.Context(), s.Store, keyPasskeyObject(cr.key.ID), b); {
	case errors.Is(err, archive.ErrExists):
		writeProblem(w, r, newProblem("passkey-exists", "API key "+cr.key.ID+" has a passkey already"))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.Registry.LogEvent(r.Context(), seal.AuditEvent{Action: KeyPasskeyRegistered, Subject: cr.key.ID, Actor: cr.key.Name,
		Details: map[string]string{"credential_id": protocol.URLEncodedBase64(cred.ID).String()}})
	writeJSON(w, http.StatusCreated, map[string]string{"key": cr.key.ID})
}

// consoleSignInPasskey signs in with a passkey: the assertion answers the
// options of the sign-in form whose token the request carries (header
// X-Csrf-Token, equal to the form's cookie), and names the key by its user
// handle. Refusals count against the client's sign-in limit.
func (s *Server) consoleSignInPasskey(w http.ResponseWriter, r *http.Request) {
	consoleHeaders(w)
	c, err := r.Cookie(consoleSignInCookie)
	tok := r.Header.Get("X-Csrf-Token")
	if err != nil || !sameToken(tok, c.Value) {
		writeProblem(w, r, newProblem("forbidden", "the sign-in form's token is missing: open the sign-in page again"))
		return
	}
	sd := s.consoleSessions.takeLogin(tok, s.now())
	body, p := readPasskeyBody(w, r)
	if p == nil && sd == nil {
		p = newProblem("unauthenticated", "no passkey sign-in was begun with this form, or it expired: open the sign-in page again")
	}
	var kp *keyPasskey
	if p == nil {
		kp, p, err = s.checkSignInAssertion(r, sd, body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if p != nil {
		if !s.signIns.allow(s.clientOf(r)) {
			s.metrics.rateLimited.WithLabelValues("console_sign_in").Inc()
			w.Header().Set("Retry-After", "60")
			p = newProblem("rate-limited", "too many failed sign-ins from this address; retry in a minute")
		}
		writeProblem(w, r, p)
		return
	}
	id := s.consoleSessions.open(kp.KeyObject, s.now())
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: id, Path: "/console/", HttpOnly: true,
		Secure: s.overTLS(r), SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: consoleSignInCookie, Value: "", Path: "/console/", MaxAge: -1})
	s.Log.Info("console sign-in with a passkey", "key", kp.KeyID, "client", s.clientOf(r))
	writeJSON(w, http.StatusOK, map[string]string{"location": "/console/"})
}

// checkSignInAssertion verifies a sign-in assertion and returns the passkey
// it was made with, whose key is in force and an archivist key.
func (s *Server) checkSignInAssertion(r *http.Request, sd *webauthn.SessionData, body []byte) (*keyPasskey, *Problem, error) {
	wa, err := s.consoleWebAuthn()
	if err != nil {
		return nil, newProblem("passkeys-unavailable", err.Error()), nil
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, newProblem("unauthenticated", "passkey: "+webauthnError(err)), nil
	}
	var kp *keyPasskey
	var storeErr error
	_, err = wa.ValidateDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		keyID := string(userHandle)
		if !ValidKeyID(keyID) {
			return nil, errors.New("not a passkey of an API key")
		}
		if kp, storeErr = s.keyPasskeyOf(r, keyID); storeErr != nil || kp == nil {
			return nil, errors.New("no passkey is registered for this key")
		}
		k, err := s.keyring().read(r.Context(), kp.KeyObject)
		if err != nil {
			storeErr = err
			return nil, err
		}
		if k.ID != keyID || k.Revoked != nil || k.Role != RoleArchivist {
			return nil, errors.New("the key of this passkey is revoked or not an archivist key")
		}
		return keyUser{k: k, creds: []webauthn.Credential{kp.Credential}}, nil
	}, *sd, parsed)
	if storeErr != nil && !errors.Is(storeErr, archive.ErrNotFound) {
		return nil, nil, storeErr
	}
	if err != nil {
		return nil, newProblem("unauthenticated", "passkey: "+webauthnError(err)), nil
	}
	return kp, nil, nil
}

// webauthnError is the detail of a go-webauthn error.
func webauthnError(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return err.Error()
}

// consoleLoginOptions begins a passkey sign-in for a sign-in form: the
// options the page passes to navigator.credentials.get, their session kept
// under the form's token; nil when passkeys are unavailable (no public URL).
func (s *Server) consoleLoginOptions(tok string) any {
	wa, err := s.consoleWebAuthn()
	if err != nil {
		return nil
	}
	ca, sd, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		s.Log.Warn("console: beginning a passkey sign-in", "err", err)
		return nil
	}
	s.consoleSessions.setLogin(tok, sd, s.now())
	return ca
}
