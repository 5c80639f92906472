package api

// Responsible persons, authorization requests and their decisions, and the
// evidence of a grant over HTTP. Persons are managed by admin keys; a
// request is made and read by the stamper keys of its seal; approving and
// refusing take no API key at all — the person's signature over the
// request's bytes is the credential.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"eseal/seal"
)

// personRequest is the JSON of POST /v1/seals/{seal_id}/persons.
type personRequest struct {
	Name string `json:"name"`
	// Certificate is the person's SM2 certificate, PEM.
	Certificate string `json:"certificate"`
	// Passkey enrols the person with a passkey instead (passkey.go).
	Passkey bool `json:"passkey"`
}

func (s *Server) listPersons(w http.ResponseWriter, r *http.Request) {
	sl, ok := s.sealByID(w, r)
	if !ok {
		return
	}
	ps, err := s.Registry.Persons(r.Context(), sl.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *Server) enrolPerson(w http.ResponseWriter, r *http.Request) {
	var req personRequest
	if p := s.readJSON(w, r, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if req.Passkey {
		s.enrolPasskeyPerson(w, r, req)
		return
	}
	p, err := s.Registry.EnrolPerson(r.Context(), seal.PersonSpec{SealID: mux.Vars(r)["seal_id"], Name: req.Name,
		CertPEM: []byte(req.Certificate), By: apiKeyFrom(r).Name})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/persons/"+p.ID)
	writeJSON(w, http.StatusCreated, p)
}

// personCARequest trusts a CA for persons' certificates, or adds one of its CRLs.
type personCARequest struct {
	Certificate string `json:"certificate"` // PEM
	CRL         string `json:"crl"`         // PEM, or base64 of the DER
}

func (s *Server) listPersonCAs(w http.ResponseWriter, r *http.Request) {
	cas, err := s.Registry.PersonCAs(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cas)
}

// readPersonCA starts both routes that change the persons' CAs: a
// platform-level key and the JSON body; false when it answered a problem.
func (s *Server) readPersonCA(w http.ResponseWriter, r *http.Request, req *personCARequest) bool {
	if !s.platformLevel(w, r) {
		return false
	}
	if p := s.readJSON(w, r, req); p != nil {
		writeProblem(w, r, p)
		return false
	}
	return true
}

func (s *Server) addPersonCA(w http.ResponseWriter, r *http.Request) {
	var req personCARequest
	if !s.readPersonCA(w, r, &req) {
		return
	}
	ca, err := s.Registry.AddPersonCA(r.Context(), []byte(req.Certificate), apiKeyFrom(r).Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ca)
}

func (s *Server) addPersonCRL(w http.ResponseWriter, r *http.Request) {
	var req personCARequest
	if !s.readPersonCA(w, r, &req) {
		return
	}
	crl := []byte(req.CRL)
	if !strings.HasPrefix(strings.TrimSpace(req.CRL), "-----BEGIN") {
		der, err := base64.StdEncoding.DecodeString(req.CRL)
		if err != nil {
			p := newProblem("invalid-field", "crl: PEM or base64 of the DER expected: "+err.Error())
			p.Field = "crl"
			writeProblem(w, r, p)
			return
		}
		crl = der
	}
	info, err := s.Registry.AddPersonCRL(r.Context(), crl, apiKeyFrom(r).Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) showPerson(w http.ResponseWriter, r *http.Request) {
	p, err := s.Registry.Person(r.Context(), mux.Vars(r)["person_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) removePerson(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readReason(w, r)
	if !ok {
		return
	}
	p, err := s.Registry.RemovePerson(r.Context(), mux.Vars(r)["person_id"], req.Reason, apiKeyFrom(r).Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// policyRequest is the JSON of POST /v1/seals/{seal_id}/policy.
type policyRequest struct {
	Policy string `json:"policy"`
}

func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request) {
	var req policyRequest
	if p := s.readJSON(w, r, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	pol, err := seal.ParsePolicy(req.Policy)
	if err == nil && req.Policy == "" {
		err = &seal.InvalidError{Reason: "policy: person or key"}
	}
	if err == nil {
		err = s.Registry.SetPolicy(r.Context(), mux.Vars(r)["seal_id"], pol, apiKeyFrom(r).Name)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"seal_id": mux.Vars(r)["seal_id"], "policy": string(pol)})
}

// authzRequestBody is the JSON of POST /v1/authorization-requests.
type authzRequestBody struct {
	SealID      string `json:"seal_id"`
	CaseNo      string `json:"case_no"`
	Title       string `json:"title"`
	DocumentSM3 string `json:"document_sm3"`
	ExpiresIn   string `json:"expires_in"`
	MaxUses     int    `json:"max_uses"`
}

// requestView is an authorization request as the API shows it: the fields
// of its grant bytes, its status, and the authorization id only once it is
// approved.
type requestView struct {
	seal.Grant
	Status          seal.RequestStatus `json:"status"`
	AuthorizationID string             `json:"authorization_id,omitempty"`
	ApproveURL      string             `json:"approve_url"`
	Challenge       []byte             `json:"challenge"`
	Decision        *seal.Decision     `json:"decision,omitempty"`
	// Methods lists how a person may approve it.
	Methods []seal.Method `json:"methods"`
	// DocumentURL is where the document the request carried can be read
	// (no API key: the request id is the capability, as in approve_url).
	DocumentURL string `json:"document_url,omitempty"`
}

func (s *Server) requestView(r *http.Request, st *seal.RequestState) (requestView, error) {
	v := requestView{Grant: st.Grant, Status: st.Status, Challenge: st.Challenge, Decision: st.Decision,
		ApproveURL: s.PublicURL + "/approve/" + st.RequestID}
	if st.Status == seal.RequestApproved {
		v.AuthorizationID = st.AuthorizationID
	}
	if st.DocumentSM3 != "" {
		if ok, err := s.Registry.HasRequestDocument(r.Context(), st.RequestID); err != nil {
			return v, err
		} else if ok {
			v.DocumentURL = s.PublicURL + "/approve/" + st.RequestID + "/document.pdf"
		}
	}
	var err error
	v.Methods, err = s.Registry.ApprovalMethods(r.Context(), st.SealID)
	return v, err
}

// writeRequestView answers with a request as the API shows it.
func (s *Server) writeRequestView(w http.ResponseWriter, r *http.Request, status int, st *seal.RequestState) {
	v, err := s.requestView(r, st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

func (s *Server) createAuthzRequest(w http.ResponseWriter, r *http.Request) {
	var req authzRequestBody
	var document []byte
	switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt {
	case "multipart/form-data":
		// The request with the document to be stamped, which the approval
		// page then shows.
		parts, p := s.readMultipart(w, r, map[string]int64{"request": s.Limits.MaxJSONBytes, "file": s.Limits.MaxPDFBytes})
		if p == nil {
			if _, ok := parts["request"]; !ok {
				p = newProblem("malformed-request", "missing part request")
			} else {
				p = decodeJSON(bytes.NewReader(parts["request"]), &req)
			}
		}
		if p == nil {
			switch document = parts["file"]; {
			case len(document) == 0:
				p = newProblem("not-a-pdf", "the file part is missing or empty")
			case !looksLikePDF(document):
				p = newProblem("not-a-pdf", "the file part does not start with a PDF header (%PDF-)")
			}
		}
		if p != nil {
			writeProblem(w, r, p)
			return
		}
	default:
		if p := s.readJSON(w, r, &req); p != nil {
			writeProblem(w, r, p)
			return
		}
	}
	k := apiKeyFrom(r)
	if !k.Reaches(req.SealID) {
		writeProblem(w, r, outOfScope(k, req.SealID, "ask authorizations for"))
		return
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil {
			p := newProblem("invalid-field", "expires_in: a duration such as 30m")
			p.Field = "expires_in"
			writeProblem(w, r, p)
			return
		}
		ttl = d
	}
	st, err := s.Registry.RequestAuthorization(r.Context(), seal.RequestSpec{SealID: req.SealID, CaseNo: req.CaseNo, Title: req.Title,
		DocumentSM3: req.DocumentSM3, ExpiresIn: ttl, MaxUses: req.MaxUses, PDF: document, By: k.Name})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/authorization-requests/"+st.RequestID)
	s.writeRequestView(w, r, http.StatusCreated, st)
}

func (s *Server) showAuthzRequest(w http.ResponseWriter, r *http.Request) {
	st, err := s.Registry.AuthorizationRequest(r.Context(), mux.Vars(r)["request_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if k := apiKeyFrom(r); !k.Reaches(st.SealID) {
		writeProblem(w, r, outOfScope(k, st.SealID, "see authorization requests of"))
		return
	}
	s.writeRequestView(w, r, http.StatusOK, st)
}

// showChallenge lets a responsible person's desk tool read, without an API
// key, what it is asked to sign. The request id (80 random bits) is the
// capability, as it is in the approve URL.
func (s *Server) showChallenge(w http.ResponseWriter, r *http.Request) {
	st, err := s.Registry.AuthorizationRequest(r.Context(), mux.Vars(r)["request_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.requestView(r, st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Decision = nil
	writeJSON(w, http.StatusOK, v)
}

// decisionBody is the JSON of POST …/approve and …/refuse.
type decisionBody struct {
	PersonID string `json:"person_id"`
	// Signature is base64 of the DER SM2-with-SM3 signature (default user
	// id) over the challenge (approve) or the refusal bytes (refuse).
	Signature string `json:"signature"`
	// Reason is given with a refusal only.
	Reason string `json:"reason,omitempty"`
}

// readDecision reads and checks the shape of a decision body.
func (s *Server) readDecision(w http.ResponseWriter, r *http.Request, refusal bool) (*decisionBody, []byte, *Problem) {
	var req decisionBody
	if p := s.readJSON(w, r, &req); p != nil {
		return nil, nil, p
	}
	field := func(name, detail string) *Problem {
		p := newProblem("invalid-field", detail)
		p.Field = name
		return p
	}
	switch {
	case !seal.ValidPersonID(req.PersonID):
		if req.PersonID == "" {
			return nil, nil, field("person_id", "person_id: the id (p-…) of the responsible person who signs")
		}
		return nil, nil, newProblem("person-not-found", fmt.Sprintf("no person %q", req.PersonID))
	case req.Signature == "":
		return nil, nil, field("signature", "signature: base64 of the DER SM2-with-SM3 signature over the challenge; an API key does not approve")
	case !refusal && req.Reason != "":
		return nil, nil, field("reason", "reason: given with a refusal only")
	}
	sig, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil || len(sig) == 0 || len(sig) > seal.MaxSignature {
		return nil, nil, field("signature", fmt.Sprintf("signature: base64 of at most %d bytes of DER", seal.MaxSignature))
	}
	return &req, sig, nil
}

func (s *Server) approveRequest(w http.ResponseWriter, r *http.Request) {
	req, sig, p := s.readDecision(w, r, false)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	a, err := s.Registry.Approve(r.Context(), mux.Vars(r)["request_id"], req.PersonID, sig)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/authorizations/"+a.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"authorization_id": a.ID, "person_id": a.PersonID, "person_name": a.PersonName, "method": string(a.Method)})
}

func (s *Server) refuseRequest(w http.ResponseWriter, r *http.Request) {
	req, sig, p := s.readDecision(w, r, true)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	st, err := s.Registry.Refuse(r.Context(), mux.Vars(r)["request_id"], req.PersonID, req.Reason, sig)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeRequestView(w, r, http.StatusOK, st)
}

func (s *Server) showEvidence(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["authz_id"]
	st, err := s.Registry.Authorization(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if k := apiKeyFrom(r); !k.Reaches(st.SealID) {
		writeProblem(w, r, outOfScope(k, st.SealID, "see the evidence of authorizations of"))
		return
	}
	ev, err := s.Registry.Evidence(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

// personProblem maps a PersonError.
func personProblem(pe *seal.PersonError) *Problem {
	if pe.Reason == seal.PersonBadCert || pe.Reason == seal.PersonCertUntrusted && pe.ID == "" {
		p := newProblem("invalid-field", pe.Error())
		p.Field = "certificate"
		return p
	}
	return newProblem("person-"+string(pe.Reason), pe.Error())
}

// requestProblem maps a RequestError.
func requestProblem(re *seal.RequestError) *Problem {
	slug := map[seal.RequestReason]string{
		seal.RequestNotFound: "request-not-found", seal.RequestIsExpired: "request-expired", seal.RequestDecided: "request-decided",
		seal.RequestBadSignature: "signature-invalid", seal.RequestNoPerson: "no-responsible-person",
	}[re.Reason]
	if slug == "" {
		slug = "internal"
	}
	return newProblem(slug, re.Error())
}

// asDecisionProblem returns the problem for the errors of this file, if err is one.
func asDecisionProblem(err error) *Problem {
	var (
		pe *seal.PersonError
		re *seal.RequestError
		ke *seal.PasskeyError
	)
	switch {
	case errors.As(err, &ke):
		return passkeyProblem(ke)
	case errors.As(err, &pe):
		return personProblem(pe)
	case errors.As(err, &re):
		return requestProblem(re)
	}
	return nil
}
