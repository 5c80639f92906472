package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"eseal/archive"
	"eseal/archive/index"
	"eseal/seal"
)

// Options configure a Server. Registry, Service and Store are required; any
// other zero field takes its default.
type Options struct {
	Registry *seal.Registry
	Service  *seal.Service
	Store    archive.Store
	// Limits whose fields are zero take those of DefaultLimits.
	Limits Limits
	// PublicURL is the externally visible base URL (for download and verify
	// links and the QR code); a trailing slash is dropped.
	PublicURL string
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Transfer configures POST /v1/transfers; nil answers 404 "not configured".
	Transfer *TransferConfig
	// Metrics may be made beforehand (NewMetrics) so the store can report
	// into them; nil makes a fresh set. One set serves one server.
	Metrics *Metrics
	// MetricsToken, when set, is the bearer token /metrics asks for.
	MetricsToken string
	// MetricsElsewhere says the metrics are served on an address of their
	// own (MetricsHandler); /metrics on this one answers 404.
	MetricsElsewhere bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (clients.go); without them the peer address is the client.
	TrustedProxies []netip.Prefix
	// SpoolDir holds the temporary files of large request bodies; "" is
	// the system's temporary directory.
	SpoolDir string
	// Posture lists what an operator must know about how the service runs
	// (demo mode, no TLS): /readyz shows each, and it is logged at start.
	Posture map[string]string
	// Index is the search index GET /v1/documents answers from; nil
	// answers 404 "not configured". The caller opens, follows and closes it.
	Index *index.Index
	// Now is the clock of the console's sessions; nil means time.Now.
	Now func() time.Time
}

// OptionsError is an Options value New refuses: Field names the option.
type OptionsError struct {
	Field, Problem string
}

func (e *OptionsError) Error() string { return "api: option " + e.Field + ": " + e.Problem }

// Server is eseal's HTTP interface. It keeps no state of its own beyond
// caches and rate limiters: replicas share everything through the store.
type Server struct {
	// Options are those New was given, with the defaults filled in. They
	// are read while serving: change none of them.
	Options

	metrics *metrics // Options.Metrics, by the name the handlers use
	// codes and codePrefixes limit wrong retrieval codes per client and
	// per code prefix; approvals limits the public approval routes.
	codes, codePrefixes, approvals *keyLimiter
	// uploads and stored bound the verifications running at once,
	// stampings the stampings.
	uploads, stored, stampings slots
	uploadClients              *clientSlots // Limits.UploadsPerClient
	verified                   *verifyCache
	keyCache                   KeyCache
	router                     *mux.Router
	// The archivist console's sessions, transfer jobs and limit on wrong
	// sign-ins per client (console.go): kept in this replica's memory.
	consoleSessions *consoleSessions
	transferJobs    *transferJobs
	signIns         *keyLimiter
}

// New checks opt, fills in the defaults and builds the routes.
func New(opt Options) (*Server, error) {
	switch {
	case opt.Registry == nil:
		return nil, &OptionsError{"Registry", "missing"}
	case opt.Service == nil:
		return nil, &OptionsError{"Service", "missing"}
	case opt.Store == nil:
		return nil, &OptionsError{"Store", "missing"}
	case opt.Limits.negative() != "":
		return nil, &OptionsError{"Limits." + opt.Limits.negative(), "negative"}
	}
	opt.Limits = opt.Limits.withDefaults()
	// Parse the pages now (the console's set is cloned from the passkey
	// and public pages, so this parses all three): a broken template
	// stops the server at start, not at its first visitor.
	consoleTemplates()
	problemsPage()
	opt.PublicURL = strings.TrimSuffix(opt.PublicURL, "/")
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Metrics == nil {
		opt.Metrics = newMetrics()
	}
	l := opt.Limits
	s := &Server{Options: opt, metrics: opt.Metrics,
		codes: newKeyLimiter(l.CodeAttemptsPerMinute), codePrefixes: newKeyLimiter(l.CodePrefixAttemptsPerMinute),
		approvals: newKeyLimiter(l.ApprovalRequestsPerMinute),
		uploads:   make(slots, l.VerifyUploads), stored: make(slots, l.VerifyStored), stampings: make(slots, l.Stampings),
		uploadClients:   newClientSlots(l.UploadsPerClient),
		verified:        newVerifyCache(l.VerifyCacheEntries, l.VerifyCacheTTL),
		consoleSessions: newConsoleSessions(), transferJobs: &transferJobs{}, signIns: newKeyLimiter(l.CodeAttemptsPerMinute),
	}
	if err := s.metrics.reg.Register(newFixityCollector(s)); err != nil {
		return nil, &OptionsError{"Metrics", "already serve another server: " + err.Error()}
	}
	s.router = s.newRouter()
	return s, nil
}

// Handler returns the server's routes; it may be called any number of times.
func (s *Server) Handler() http.Handler { return s.router }

func (s *Server) newRouter() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem("not-found", "no route for "+r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem("method-not-allowed", r.Method+" is not allowed on "+r.URL.Path))
	})
	for _, rt := range s.routes() {
		var h http.Handler = rt.handler
		if rt.roles != nil {
			h = s.authenticate(rt.roles, h)
		}
		r.Handle(rt.path, s.instrument(rt.name, s.recoverPanics(h))).Methods(rt.methods...)
	}
	return r
}

type route struct {
	methods []string
	path    string
	roles   []Role // nil: public
	name    string
	handler http.HandlerFunc
}

func (s *Server) routes() []route {
	return append([]route{
		{[]string{"GET"}, "/healthz", nil, "healthz", s.healthz},
		{[]string{"GET"}, "/readyz", nil, "readyz", s.readyz},
		{[]string{"GET"}, "/metrics", nil, "metrics", s.metricsHandler},
		{[]string{"GET"}, "/openapi.yaml", nil, "openapi", s.openapi},
		{[]string{"GET"}, "/problems/{slug}", nil, "problems", s.problemDoc},
		{[]string{"GET"}, "/v1/seals", anyRole, "seals_list", s.listSeals},
		{[]string{"POST"}, "/v1/seals", onlyAdmin, "seals_create", s.createSeal},
		{[]string{"GET"}, "/v1/seals/{seal_id}", anyRole, "seals_show", s.showSeal},
		{[]string{"POST"}, "/v1/seals/{seal_id}/suspend", onlyAdmin, "seals_suspend", s.sealStatus(seal.Suspended)},
		{[]string{"POST"}, "/v1/seals/{seal_id}/resume", onlyAdmin, "seals_resume", s.sealStatus(seal.Active)},
		{[]string{"POST"}, "/v1/seals/{seal_id}/revoke", onlyAdmin, "seals_revoke", s.sealStatus(seal.Revoked)},
		{[]string{"GET"}, "/v1/seals/{seal_id}/chain.pem", nil, "seals_chain", s.sealChain},
		{[]string{"GET"}, seal.CRLPath, nil, "pki_crl", s.pkiCRL},
		{[]string{"GET"}, seal.RootPath, nil, "pki_root", s.pkiRoot},
		{[]string{"GET"}, "/v1/seals/{seal_id}/seseal.der", nil, "seals_seseal", s.sealSESeal},
		{[]string{"GET"}, "/v1/seals/{seal_id}/picture.png", nil, "seals_picture", s.sealPicture},
		{[]string{"POST"}, "/v1/seals/{seal_id}/authorizations", onlyAuthorizer, "authz_grant", s.grant},
		{[]string{"GET"}, "/v1/authorizations/{authz_id}", authzReaders, "authz_show", s.showAuthorization},
		{[]string{"POST"}, "/v1/authorizations/{authz_id}/revoke", onlyAuthorizer, "authz_revoke", s.revokeAuthorization},
		{[]string{"GET"}, "/v1/authorizations/{authz_id}/evidence", authzReaders, "authz_evidence", s.showEvidence},
		{[]string{"GET"}, "/v1/seals/{seal_id}/persons", onlyAdmin, "persons_list", s.listPersons},
		{[]string{"POST"}, "/v1/seals/{seal_id}/persons", onlyAdmin, "persons_enrol", s.enrolPerson},
		{[]string{"POST"}, "/v1/seals/{seal_id}/policy", onlyAdmin, "seals_policy", s.setPolicy},
		{[]string{"GET"}, "/v1/person-cas", keyAdmins, "person_cas_list", s.listPersonCAs},
		{[]string{"POST"}, "/v1/person-cas", keyAdmins, "person_cas_add", s.addPersonCA},
		{[]string{"POST"}, "/v1/person-cas/crls", keyAdmins, "person_cas_crl", s.addPersonCRL},
		{[]string{"GET"}, "/v1/persons/{person_id}", onlyAdmin, "persons_show", s.showPerson},
		{[]string{"POST"}, "/v1/persons/{person_id}/remove", onlyAdmin, "persons_remove", s.removePerson},
		{[]string{"GET"}, "/v1/persons/{person_id}/passkeys", onlyAdmin, "persons_passkeys", s.listPasskeys},
		{[]string{"POST"}, "/v1/persons/{person_id}/passkeys", onlyAdmin, "persons_passkey_invite", s.invitePasskey},
		{[]string{"POST"}, "/v1/persons/{person_id}/passkeys/{credential_id}/remove", onlyAdmin, "persons_passkey_remove", s.removePasskey},
		{[]string{"POST"}, "/v1/authorization-requests", onlyStamper, "requests_create", s.createAuthzRequest},
		{[]string{"GET"}, "/v1/authorization-requests/{request_id}", authzReaders, "requests_show", s.showAuthzRequest},
		{[]string{"GET"}, "/v1/authorization-requests/{request_id}/challenge", nil, "requests_challenge", s.limitPerClient(s.showChallenge)},
		{[]string{"POST"}, "/v1/authorization-requests/{request_id}/approve", nil, "requests_approve", s.limitPerClient(s.approveRequest)},
		{[]string{"POST"}, "/v1/authorization-requests/{request_id}/refuse", nil, "requests_refuse", s.limitPerClient(s.refuseRequest)},
		{[]string{"POST"}, "/v1/authorization-requests/{request_id}/passkey-approve", nil, "requests_passkey_approve", s.limitPerClient(s.approvePasskey)},
		{[]string{"POST"}, "/v1/authorization-requests/{request_id}/refusal-options", nil, "requests_refusal_options", s.limitPerClient(s.refusalOptions)},
		{[]string{"POST"}, "/v1/authorization-requests/{request_id}/passkey-refuse", nil, "requests_passkey_refuse", s.limitPerClient(s.refusePasskey)},
		{[]string{"POST"}, "/v1/enrolments/{token}", nil, "enrolments_register", s.limitPerClient(s.registerPasskey)},
		{[]string{"POST"}, "/v1/stamps", onlyStamper, "stamp", s.stamp},
		{[]string{"GET"}, "/v1/documents", documentReaders, "documents_search", s.searchDocuments},
		{[]string{"GET"}, "/v1/documents/{doc_id}", documentReaders, "documents_show", s.showDocument},
		{[]string{"GET"}, "/v1/documents/{doc_id}/pdf", documentReaders, "documents_pdf", s.documentPDF},
		{[]string{"GET"}, "/v1/documents/{doc_id}/ses-signatures/{n}", documentReaders, "documents_ses", s.documentSESignature},
		{[]string{"POST"}, "/v1/documents/{doc_id}/hold", onlyArchivist, "documents_hold", s.holdDocument},
		{[]string{"POST"}, "/v1/transfers", onlyArchivist, "transfers_create", s.createTransfer(s.Transfer)},
		{[]string{"POST"}, "/v1/verify", nil, "verify", s.verify},
		{[]string{"GET"}, "/v1/keys", keyAdmins, "keys_list", s.listKeys},
		{[]string{"POST"}, "/v1/keys", keyAdmins, "keys_create", s.createKey},
		{[]string{"POST"}, "/v1/keys/{key_id}/revoke", keyAdmins, "keys_revoke", s.revokeKey},
		{[]string{"GET"}, "/v1/units", onlyPlatform, "units_list", s.listUnits},
		{[]string{"POST"}, "/v1/units", onlyPlatform, "units_create", s.createUnit},
		{[]string{"GET"}, "/v1/units/{unit_id}", onlyPlatform, "units_show", s.showUnit},
		{[]string{"POST"}, "/v1/units/{unit_id}/schedule", keyAdmins, "units_schedule", s.setUnitSchedule},
		{[]string{"POST"}, "/v1/tsa", onlyStamper, "tsa", s.tsa},
		{[]string{"GET"}, "/d/{code}", nil, "download_page", s.downloadPage},
		{[]string{"GET"}, "/d/{code}/pdf", nil, "download_pdf", s.downloadPDF},
		{[]string{"GET"}, "/v/{doc_id}", nil, "verify_page", s.verifyPage},
		{[]string{"GET"}, "/enrol/{token}", nil, "enrol_page", s.limitPerClient(s.enrolPage)},
		{[]string{"GET"}, "/approve/{request_id}", nil, "approve_page", s.limitPerClient(s.approvePage)},
		{[]string{"GET"}, "/approve/{request_id}/document.pdf", nil, "approve_document", s.limitPerClient(s.requestDocumentPDF)},
		{[]string{"GET"}, "/approve/{request_id}/page-1.svg", nil, "approve_page_preview", s.limitPerClient(s.requestPagePreview)},
	}, s.consoleRoutes()...)
}

type ctxKey int

const keyCtx ctxKey = 1

// authenticate checks the bearer key and its role. The seals a key reaches
// are checked by the handler, which knows the seal.
func (s *Server) authenticate(roles []Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := s.checkKey(w, r, roles)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCtx, k)))
	})
}

func apiKeyFrom(r *http.Request) *APIKey {
	k, _ := r.Context().Value(keyCtx).(*APIKey)
	return k
}

// fail answers with the problem for err, logging what is not the client's fault.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeProblem(w, r, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// readJSON decodes a bounded JSON body strictly: unknown fields and trailing
// data are errors.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) *Problem {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return newProblem("unsupported-media-type", "send application/json")
	}
	return decodeJSON(http.MaxBytesReader(w, r.Body, s.Limits.MaxJSONBytes), v)
}

func decodeJSON(rd io.Reader, v any) *Problem {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newProblem("body-too-large", fmt.Sprintf("the JSON body is limited to %d bytes", mbe.Limit))
		}
		return newProblem("malformed-request", "invalid JSON: "+err.Error())
	}
	if dec.More() {
		return newProblem("malformed-request", "invalid JSON: data after the object")
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz checks that the store answers, the keys are unlocked and no active
// seal's certificate expires within 30 days, and reports stampings pending
// longer than the recovery sweep's grace period (which the sweep could not
// finish: the log says why). Those are cluster-wide, so they do not make
// this replica unready. It also names how the service runs (Options.Posture:
// demo mode, no TLS) so nobody mistakes a demo for production.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	for k, v := range s.Posture {
		checks[k] = v
	}
	ok := true
	seals, err := s.Registry.List(ctx)
	if err != nil {
		checks["store"] = "unreachable: " + err.Error()
		ok = false
	} else {
		checks["store"] = "ok"
		if _, demo := s.Posture["keys"]; !demo {
			checks["keys"] = "ok"
		}
		soon := time.Now().Add(30 * 24 * time.Hour)
		for _, sl := range seals {
			if sl.Status == seal.Active && sl.ValidEnd.Before(soon) {
				checks["seal "+sl.ID] = "expires " + sl.ValidEnd.Format(time.DateOnly)
				ok = false
			}
		}
		switch n, err := s.Service.StalePending(ctx); {
		case err != nil:
			checks["recovery"] = "cannot list pending stampings: " + err.Error()
		case n > 0:
			checks["recovery"] = fmt.Sprintf("%d stampings pending longer than %s", n, s.Service.Grace())
		default:
			checks["recovery"] = "ok"
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

func (s *Server) problemDoc(w http.ResponseWriter, r *http.Request) {
	if _, ok := problemKinds[mux.Vars(r)["slug"]]; !ok {
		writeProblem(w, r, newProblem("not-found", "no such problem type"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = problemsPage().Execute(w, problemDocs())
}

// recoverPanics turns a panic in a handler into a logged 500 problem, so one
// bad request cannot take the connection down without an answer.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic in handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeProblem(w, r, newProblem("internal", "the request failed; the error is in the server log"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Router returns the server's routes, for tests and tools that walk them.
func (s *Server) Router() *mux.Router { return s.router }
