package api

// Units over HTTP: /v1/units for the platform key, and the unit scope every
// admin and archivist key is held to (a stamper or authorizer key is held to
// its seals, which belong to its unit).

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"eseal/seal"
)

var (
	onlyPlatform = []Role{RolePlatform}
	// keyAdmins manage keys: a unit's admin those of its unit, the platform
	// key those of every unit.
	keyAdmins = []Role{RoleAdmin, RolePlatform}
)

// unitOutOfScope is the answer to a key reaching into another unit.
func unitOutOfScope(k *APIKey, what, unit string) *Problem {
	return newProblem("unit-out-of-scope", fmt.Sprintf("%s key %s of unit %s may not %s: it belongs to unit %s", k.Role, k.ID, k.Unit, what, unit))
}

// checkUnitScope refuses an admin or archivist key a route whose seal,
// person, authorization, request or document belongs to another unit. What
// does not exist is left to the handler (404).
func (s *Server) checkUnitScope(ctx context.Context, r *http.Request, k *APIKey) (*Problem, error) {
	if k.Role != RoleAdmin && k.Role != RoleArchivist {
		return nil, nil
	}
	vars := mux.Vars(r)
	sealUnit := func(sealID string) (string, error) {
		sl, err := s.Registry.Get(ctx, sealID)
		if err != nil {
			return "", err
		}
		u, err := s.Registry.UnitOf(ctx, sl)
		if err != nil {
			return "", err
		}
		return u.ID, nil
	}
	var unit, what string
	var err error
	switch {
	case vars["seal_id"] != "":
		what = "reach seal " + vars["seal_id"]
		unit, err = sealUnit(vars["seal_id"])
	case vars["person_id"] != "":
		what = "reach person " + vars["person_id"]
		var p *seal.Person
		if p, err = s.Registry.Person(ctx, vars["person_id"]); err == nil {
			unit, err = sealUnit(p.SealID)
		}
	case vars["doc_id"] != "":
		what = "read document " + vars["doc_id"]
		var u *seal.Unit
		if u, err = s.Registry.DocumentUnit(ctx, vars["doc_id"]); err == nil {
			unit = u.ID
		}
	case vars["authz_id"] != "":
		what = "read authorization " + vars["authz_id"]
		var a *seal.AuthorizationState
		if a, err = s.Registry.Authorization(ctx, vars["authz_id"]); err == nil {
			unit, err = sealUnit(a.SealID)
		}
	case vars["request_id"] != "":
		what = "read authorization request " + vars["request_id"]
		var st *seal.RequestState
		if st, err = s.Registry.AuthorizationRequest(ctx, vars["request_id"]); err == nil {
			unit, err = sealUnit(st.SealID)
		}
	case vars["unit_id"] != "" && k.Role == RoleAdmin:
		what, unit = "manage unit "+vars["unit_id"], vars["unit_id"]
	default:
		return nil, nil
	}
	if err != nil {
		if problemFor(err).Status == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	if unit != k.Unit {
		return unitOutOfScope(k, what, unit), nil
	}
	return nil, nil
}

// reachesSeal reports whether the key may see the seal: a stamper or
// authorizer key its seals, an admin or archivist key its unit's.
func (s *Server) reachesSeal(ctx context.Context, k *APIKey, sl *seal.Seal) (bool, error) {
	if k.Role.scoped() {
		return k.Reaches(sl.ID), nil
	}
	u, err := s.Registry.UnitOf(ctx, sl)
	if err != nil {
		return false, err
	}
	return u.ID == k.Unit, nil
}

// platformLevel refuses a platform-wide change (the persons' CAs) to any
// key but the platform key and the first unit's admin key (the organisation
// the deployment was before it served several units).
func (s *Server) platformLevel(w http.ResponseWriter, r *http.Request) bool {
	k := apiKeyFrom(r)
	if k.Role == RolePlatform {
		return true
	}
	first, err := s.Registry.FirstUnit(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	if k.Unit != first.ID {
		writeProblem(w, r, unitOutOfScope(k, "change what every unit trusts", "the platform"))
		return false
	}
	return true
}

// createUnitRequest is the JSON of POST /v1/units.
type createUnitRequest struct {
	Name  string `json:"name"`
	Code  string `json:"code"`
	Fonds string `json:"fonds"`
}

func (s *Server) createUnit(w http.ResponseWriter, r *http.Request) {
	var req createUnitRequest
	if p := s.readJSON(w, r, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	u, err := s.Registry.CreateUnit(r.Context(), seal.UnitSpec{Name: req.Name, Code: req.Code, Fonds: req.Fonds, By: apiKeyFrom(r).actor()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/units/"+u.ID)
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) listUnits(w http.ResponseWriter, r *http.Request) {
	us, err := s.Registry.Units(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, us)
}

func (s *Server) showUnit(w http.ResponseWriter, r *http.Request) {
	u, err := s.Registry.Unit(r.Context(), mux.Vars(r)["unit_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// keysOfUnit keeps the keys a key administrator sees: all for the platform
// key, its unit's for a unit's admin.
func keysOfUnit(k *APIKey, keys []*APIKey) []*APIKey {
	if k.Role == RolePlatform {
		return keys
	}
	return slices.DeleteFunc(keys, func(o *APIKey) bool { return o.Unit != k.Unit })
}

// setUnitSchedule puts a retention schedule (YAML, the body) in force for a
// unit: its admin's, or the platform key's.
func (s *Server) setUnitSchedule(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/yaml" && ct != "text/yaml" && ct != "application/x-yaml" {
		writeProblem(w, r, newProblem("unsupported-media-type", "send the schedule as YAML (Content-Type: application/yaml)"))
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeProblem(w, r, bodyProblem(err))
		return
	}
	v, err := s.Registry.SetUnitSchedule(r.Context(), mux.Vars(r)["unit_id"], b, apiKeyFrom(r).actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"unit": mux.Vars(r)["unit_id"], "version": v})
}
