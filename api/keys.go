package api

// API keys over HTTP: checking the presented key on every request, what each
// key's seals let it reach, and /v1/keys for admin keys.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"eseal/archive"
	"eseal/seal"
)

// Who may call a route, besides nobody (public routes have no roles).
var (
	anyRole        = []Role{RoleAdmin, RoleAuthorizer, RoleStamper, RoleArchivist}
	onlyAdmin      = []Role{RoleAdmin}
	onlyAuthorizer = []Role{RoleAuthorizer}
	onlyStamper    = []Role{RoleStamper}
	onlyArchivist  = []Role{RoleArchivist}
	// authzReaders see authorizations: the authorizers and stampers of the
	// seal, and archivists.
	authzReaders = []Role{RoleAuthorizer, RoleStamper, RoleArchivist}
	// documentReaders read stored documents: the stampers of their seals,
	// and archivists.
	documentReaders = []Role{RoleStamper, RoleArchivist}
)

func (s *Server) keyring() Keyring {
	return Keyring{Store: s.Store, Registry: s.Registry, Cache: &s.keyCache}
}

// checkKey finds the presented bearer key and checks that it is in force and
// has one of roles; otherwise it answers with the problem and returns false.
func (s *Server) checkKey(w http.ResponseWriter, r *http.Request, roles []Role) (*APIKey, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eseal"`)
		writeProblem(w, r, newProblem("unauthenticated", "send Authorization: Bearer <API key>"))
		return nil, false
	}
	k, err := s.keyring().Lookup(r.Context(), strings.TrimSpace(tok))
	switch {
	case errors.Is(err, archive.ErrNotFound):
		w.Header().Set("WWW-Authenticate", `Bearer realm="eseal", error="invalid_token"`)
		writeProblem(w, r, newProblem("unauthenticated", "unknown API key"))
		return nil, false
	case err != nil:
		s.fail(w, r, err)
		return nil, false
	case k.Revoked != nil:
		w.Header().Set("WWW-Authenticate", `Bearer realm="eseal", error="invalid_token"`)
		writeProblem(w, r, newProblem("key-revoked", fmt.Sprintf("API key %s (%s) was revoked at %s",
			k.ID, k.Name, k.Revoked.Time.Format("2006-01-02T15:04:05Z07:00"))))
		return nil, false
	case k.Role == "":
		writeProblem(w, r, newProblem("forbidden", fmt.Sprintf("API key %s has the roles %v from before keys had one role; create one key per role and revoke this one", k.ID, k.LegacyRoles)))
		return nil, false
	case !slices.Contains(roles, k.Role):
		writeProblem(w, r, newProblem("forbidden", fmt.Sprintf("API key %s has the role %s; %s %s needs the role %s",
			k.ID, k.Role, r.Method, r.URL.Path, joinRoles(roles))))
		return nil, false
	}
	if p, err := s.checkUnitScope(r.Context(), r, k); err != nil || p != nil {
		if err != nil {
			s.fail(w, r, err)
		} else {
			writeProblem(w, r, p)
		}
		return nil, false
	}
	return k, true
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// outOfScope is the answer to a key whose seals do not include sealID.
func outOfScope(k *APIKey, sealID, what string) *Problem {
	return newProblem("seal-out-of-scope", fmt.Sprintf("%s key %s may not %s seal %s; its seals: %s",
		k.Role, k.ID, what, sealID, strings.Join(k.Seals, ", ")))
}

// reachesRecord reports whether the key may read a stored document: a
// stamper key reads those stamped with one of its seals.
func (k *APIKey) reachesRecord(rec *archive.Record) bool {
	return slices.ContainsFunc(rec.Signatures, func(sig archive.SignatureElement) bool { return k.Reaches(sig.SealID) })
}

// documentOutOfScope is the answer to a key that may not read a document.
func documentOutOfScope(k *APIKey, docID string) *Problem {
	return newProblem("seal-out-of-scope", fmt.Sprintf("%s key %s may not read document %s: none of its seals stamped it", k.Role, k.ID, docID))
}

// checkStampScope refuses a stamping that would use a seal outside the key's
// seals, or add seals to a document the key may not read. An authorization
// of another seal is refused by the stamping itself (authorizationOutOfScope),
// so that the hot path reads each authorization once.
func (s *Server) checkStampScope(r *http.Request, k *APIKey, uses []seal.SealUse, baseDoc string) (*Problem, error) {
	for _, u := range uses {
		if !k.Reaches(u.SealID) {
			return outOfScope(k, u.SealID, "stamp with"), nil
		}
	}
	if baseDoc == "" {
		return nil, nil
	}
	rec, err := s.Service.Documents().CommittedRecord(r.Context(), baseDoc)
	if err != nil {
		return nil, err
	}
	if !k.reachesRecord(rec) {
		return documentOutOfScope(k, baseDoc), nil
	}
	return nil, nil
}

// authorizationOutOfScope turns the stamping's refusal of an authorization
// granted for another seal into 403 seal-out-of-scope when that seal is not
// the key's (409 authorization-wrong-seal stays for a seal it holds).
func authorizationOutOfScope(k *APIKey, err error) *Problem {
	var ae *seal.AuthzError
	if errors.As(err, &ae) && ae.Reason == seal.AuthzWrongSeal && !k.Reaches(ae.GrantedFor) {
		return outOfScope(k, ae.GrantedFor, "use authorization "+ae.ID+" of")
	}
	return nil
}

// createKeyRequest is the JSON of POST /v1/keys.
type createKeyRequest struct {
	Name  string   `json:"name"`
	Role  Role     `json:"role"`
	Seals []string `json:"seals"`
	// Unit is the new key's unit: a unit's admin creates keys of its own
	// unit only (omitted: its own); the platform key names it.
	Unit string `json:"unit"`
}

// createdKey is a new key with its secret, which is shown only here.
type createdKey struct {
	Key string `json:"key"`
	*APIKey
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var req createKeyRequest
	if p := s.readJSON(w, r, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	by := apiKeyFrom(r)
	spec := KeySpec{Name: req.Name, Role: req.Role, Seals: req.Seals, Unit: req.Unit, By: by.actor()}
	switch {
	case by.Role == RolePlatform:
		// The platform key creates keys of any unit, stamper keys for joint
		// approvals across units, and other platform keys.
		spec.CrossUnit = req.Role == RoleStamper
		if req.Role != RolePlatform && req.Unit == "" {
			p := newProblem("invalid-field", "unit: the unit the key belongs to (u-…)")
			p.Field = "unit"
			writeProblem(w, r, p)
			return
		}
	case req.Role == RolePlatform:
		writeProblem(w, r, newProblem("forbidden", fmt.Sprintf("only a platform key creates platform keys; %s is an admin key of unit %s", by.ID, by.Unit)))
		return
	case req.Unit != "" && req.Unit != by.Unit:
		writeProblem(w, r, unitOutOfScope(by, "create keys for unit "+req.Unit, req.Unit))
		return
	default:
		spec.Unit = by.Unit
	}
	k, secret, err := s.keyring().Create(r.Context(), spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/keys/"+k.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdKey{secret, k})
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.keyring().List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOfUnit(apiKeyFrom(r), keys))
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readReason(w, r)
	if !ok {
		return
	}
	by, id := apiKeyFrom(r), mux.Vars(r)["key_id"]
	if by.Role != RolePlatform {
		keys, err := s.keyring().List(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if i := slices.IndexFunc(keys, func(o *APIKey) bool { return o.ID == id }); i >= 0 && keys[i].Unit != by.Unit {
			writeProblem(w, r, unitOutOfScope(by, "revoke key "+id, keys[i].Unit))
			return
		}
	}
	k, err := s.keyring().Revoke(r.Context(), id, req.Reason, by.actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}

// actor names the key in the audit log and in what it creates.
func (k *APIKey) actor() string { return k.Name + " (" + k.ID + ")" }
