package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"eseal/seal"
)

func (s *Server) listSeals(w http.ResponseWriter, r *http.Request) {
	seals, err := s.Registry.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	k := apiKeyFrom(r)
	var out []*seal.Seal
	for _, sl := range seals {
		ok, err := s.reachesSeal(r.Context(), k, sl)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ok {
			out = append(out, sl)
		}
	}
	if out == nil {
		out = []*seal.Seal{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) sealByID(w http.ResponseWriter, r *http.Request) (*seal.Seal, bool) {
	sl, err := s.Registry.Get(r.Context(), mux.Vars(r)["seal_id"])
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return sl, true
}

func (s *Server) showSeal(w http.ResponseWriter, r *http.Request) {
	if k, id := apiKeyFrom(r), mux.Vars(r)["seal_id"]; !k.Reaches(id) {
		writeProblem(w, r, outOfScope(k, id, "see"))
		return
	}
	if sl, ok := s.sealByID(w, r); ok {
		writeJSON(w, http.StatusOK, sl)
	}
}

// createSealRequest is the JSON of POST /v1/seals (alone, or as the "request"
// part beside a "picture" PNG part).
type createSealRequest struct {
	Name     string `json:"name"`
	Type     int    `json:"type"`
	WidthMM  int    `json:"width_mm"`
	HeightMM int    `json:"height_mm"`
	ValidFor string `json:"valid_for"`
	// Policy is person (the default) or key.
	Policy string `json:"policy"`
}

func (s *Server) createSeal(w http.ResponseWriter, r *http.Request) {
	var req createSealRequest
	var picture []byte
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if p := s.readJSON(w, r, &req); p != nil {
			writeProblem(w, r, p)
			return
		}
	case "multipart/form-data":
		parts, p := s.readMultipart(w, r, map[string]int64{"request": s.Limits.MaxJSONBytes, "picture": seal.MaxPictureBytes})
		if p != nil {
			writeProblem(w, r, p)
			return
		}
		if p := decodeJSON(strings.NewReader(string(parts["request"])), &req); p != nil {
			writeProblem(w, r, p)
			return
		}
		picture = parts["picture"]
	default:
		writeProblem(w, r, newProblem("unsupported-media-type", "send application/json or multipart/form-data with parts request and picture"))
		return
	}
	spec := seal.CreateSpec{Name: req.Name, Type: seal.Type(req.Type), Picture: picture,
		WidthMM: req.WidthMM, HeightMM: req.HeightMM, By: apiKeyFrom(r).Name, Policy: seal.Policy(req.Policy), Unit: apiKeyFrom(r).Unit}
	if req.ValidFor != "" {
		d, err := time.ParseDuration(req.ValidFor)
		if err != nil {
			p := newProblem("invalid-field", "valid_for: a duration such as 43800h")
			p.Field = "valid_for"
			writeProblem(w, r, p)
			return
		}
		spec.ValidFor = d
	}
	sl, err := s.Registry.CreateSeal(r.Context(), spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/seals/"+sl.ID)
	writeJSON(w, http.StatusCreated, sl)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// readReason reads the optional {"reason"} body of a state change; false
// when it answered a problem instead.
func (s *Server) readReason(w http.ResponseWriter, r *http.Request) (reasonRequest, bool) {
	var req reasonRequest
	if r.ContentLength != 0 {
		if p := s.readJSON(w, r, &req); p != nil {
			writeProblem(w, r, p)
			return req, false
		}
	}
	return req, true
}

func (s *Server) sealStatus(to seal.Status) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := s.readReason(w, r)
		if !ok {
			return
		}
		sl, err := s.Registry.SetStatus(r.Context(), mux.Vars(r)["seal_id"], to, req.Reason, apiKeyFrom(r).Name)
		var se *seal.StateError
		if errors.As(err, &se) {
			writeProblem(w, r, newProblem("seal-conflict", se.Error()))
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, sl)
	}
}

func (s *Server) sealChain(w http.ResponseWriter, r *http.Request) {
	b, err := s.Registry.Chain(r.Context(), mux.Vars(r)["seal_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	_, _ = w.Write(b)
}

// pkiCRL publishes the root's newest CRL where the certificates it issues
// say it is (seal.CRLPath): a relying party checks revocation by itself.
func (s *Server) pkiCRL(w http.ResponseWriter, r *http.Request) {
	b, err := s.Registry.CRL(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

// pkiRoot publishes the root certificate (DER), the caIssuers of the
// certificates it issues (seal.RootPath).
func (s *Server) pkiRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(s.Registry.Roots()[0].Raw)
}

func (s *Server) sealSESeal(w http.ResponseWriter, r *http.Request) {
	b, err := s.Registry.SESeal(r.Context(), mux.Vars(r)["seal_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+mux.Vars(r)["seal_id"]+`.esl"`)
	_, _ = w.Write(b)
}

func (s *Server) sealPicture(w http.ResponseWriter, r *http.Request) {
	b, err := s.Registry.Picture(r.Context(), mux.Vars(r)["seal_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// grantRequest is the JSON of POST /v1/seals/{seal_id}/authorizations.
type grantRequest struct {
	CaseNo      string `json:"case_no"`
	DocumentSM3 string `json:"document_sm3"`
	Purpose     string `json:"purpose"`
	MaxUses     int    `json:"max_uses"`
	ExpiresIn   string `json:"expires_in"`
}

func (s *Server) grant(w http.ResponseWriter, r *http.Request) {
	sealID := mux.Vars(r)["seal_id"]
	k := apiKeyFrom(r)
	if !k.Reaches(sealID) {
		writeProblem(w, r, outOfScope(k, sealID, "grant authorizations for"))
		return
	}
	var req grantRequest
	if p := s.readJSON(w, r, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil {
			p := newProblem("invalid-field", "expires_in: a duration such as 10m")
			p.Field = "expires_in"
			writeProblem(w, r, p)
			return
		}
		ttl = d
	}
	a, err := s.Registry.Grant(r.Context(), seal.GrantRequest{
		SealID: sealID, CaseNo: req.CaseNo, DocumentSM3: req.DocumentSM3, Purpose: req.Purpose,
		MaxUses: req.MaxUses, ExpiresIn: ttl, GrantedBy: k.Name,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/authorizations/"+a.ID)
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) showAuthorization(w http.ResponseWriter, r *http.Request) {
	st, err := s.Registry.Authorization(r.Context(), mux.Vars(r)["authz_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if k := apiKeyFrom(r); !k.Reaches(st.SealID) {
		writeProblem(w, r, outOfScope(k, st.SealID, "see authorizations of"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) revokeAuthorization(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["authz_id"]
	st, err := s.Registry.Authorization(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	k := apiKeyFrom(r)
	if !k.Reaches(st.SealID) {
		writeProblem(w, r, outOfScope(k, st.SealID, "revoke authorizations of"))
		return
	}
	req, ok := s.readReason(w, r)
	if !ok {
		return
	}
	st, err = s.Registry.RevokeAuthorization(r.Context(), id, req.Reason, k.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// readMultipart reads the named parts of a multipart/form-data body, each
// within its limit; unknown parts and oversize parts are errors.
func (s *Server) readMultipart(w http.ResponseWriter, r *http.Request, limits map[string]int64) (map[string][]byte, *Problem) {
	var total int64
	for _, l := range limits {
		total += l
	}
	r.Body = http.MaxBytesReader(w, r.Body, total+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, newProblem("malformed-request", "multipart body: "+err.Error())
	}
	parts := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, bodyProblem(err)
		}
		name := p.FormName()
		limit, ok := limits[name]
		if !ok {
			return nil, newProblem("malformed-request", fmt.Sprintf("unexpected part %q", name))
		}
		if _, dup := parts[name]; dup {
			return nil, newProblem("malformed-request", fmt.Sprintf("part %q appears twice", name))
		}
		b, err := io.ReadAll(io.LimitReader(p, limit+1))
		if err != nil {
			return nil, bodyProblem(err)
		}
		if int64(len(b)) > limit {
			return nil, newProblem("body-too-large", fmt.Sprintf("part %q is limited to %d bytes", name, limit))
		}
		parts[name] = b
	}
}

func bodyProblem(err error) *Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newProblem("body-too-large", fmt.Sprintf("the body is limited to %d bytes", mbe.Limit))
	}
	return newProblem("malformed-request", "reading the body: "+err.Error())
}
