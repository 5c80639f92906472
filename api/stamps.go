package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/seal"
)

// stampRequest is the "request" part of POST /v1/stamps.
type stampRequest struct {
	SealID          string           `json:"seal_id"`
	AuthorizationID string           `json:"authorization_id"`
	Placement       seal.Placement   `json:"placement"`
	Record          seal.RecordInput `json:"record"`
	// Seals replaces seal_id/authorization_id/placement with several seals.
	Seals []seal.SealUse `json:"seals"`
	// DocumentID adds the seals to an archived document (no file part).
	DocumentID string `json:"document_id"`
	// Timestamp asks for an RFC 3161 timestamp on the signature.
	Timestamp bool `json:"timestamp"`
	// QR draws a QR code of the verify URL beside the seal.
	QR bool `json:"qr"`
	// LTV adds a /DSS revision so the seals verify after their certificates expire.
	LTV bool `json:"ltv"`
	// SESignature also makes GB/T 38540 SES_Signatures, kept beside the document.
	SESignature bool `json:"ses_signature"`
	// Profile is the signature format: "cms" (default), "pades" or "ses".
	Profile string `json:"profile"`
}

// stampResponse is the answer to a stamping.
type stampResponse struct {
	DocumentID    string          `json:"document_id"`
	RetrievalCode string          `json:"retrieval_code,omitempty"`
	DownloadURL   string          `json:"download_url,omitempty"`
	VerifyURL     string          `json:"verify_url"`
	Replayed      bool            `json:"replayed,omitempty"`
	Warnings      []string        `json:"warnings,omitempty"`
	Record        *archive.Record `json:"record"`
}

func (s *Server) stamp(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		writeProblem(w, r, newProblem("unsupported-media-type", "send multipart/form-data with parts file (the PDF) and request (JSON)"))
		return
	}
	// At most Limits.Stampings hold their PDFs at once; another waits,
	// its body unread.
	if !s.takeSlot(w, r, s.stampings, s.Limits.StampWait, "stamp", "stampings") {
		return
	}
	defer s.stampings.release()
	paced := s.pace(w, r, "stamp")
	parts, p := s.readMultipart(w, r, map[string]int64{"request": s.Limits.MaxJSONBytes, "file": s.Limits.MaxPDFBytes})
	paced.done()
	if paced.tooSlow(w) {
		writeProblem(w, r, slowBodyProblem(s.Limits))
		return
	}
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	var req stampRequest
	if _, ok := parts["request"]; !ok {
		writeProblem(w, r, newProblem("malformed-request", "missing part request"))
		return
	}
	if p := decodeJSON(bytes.NewReader(parts["request"]), &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	pdfBytes, hasFile := parts["file"]
	switch {
	case req.DocumentID != "" && hasFile:
		writeProblem(w, r, newProblem("malformed-request", "give either a file part or document_id, not both"))
		return
	case req.DocumentID != "":
		if !archive.ValidDocumentID(req.DocumentID) {
			writeProblem(w, r, newProblem("not-found", fmt.Sprintf("%q is not a document id", req.DocumentID)))
			return
		}
	case len(pdfBytes) == 0:
		writeProblem(w, r, newProblem("not-a-pdf", "the file part is missing or empty"))
		return
	case !looksLikePDF(pdfBytes):
		writeProblem(w, r, newProblem("not-a-pdf", "the file part does not start with a PDF header (%PDF-)"))
		return
	}
	profile, err := seal.ParseProfile(req.Profile)
	if err != nil {
		p := newProblem("invalid-field", err.Error())
		p.Field = "profile"
		writeProblem(w, r, p)
		return
	}
	uses := req.Seals
	if len(uses) == 0 {
		uses = []seal.SealUse{{SealID: req.SealID, AuthorizationID: req.AuthorizationID}}
	} else if req.SealID != "" || req.AuthorizationID != "" {
		writeProblem(w, r, newProblem("malformed-request", "give either seals or seal_id/authorization_id"))
		return
	}
	for _, u := range uses {
		if !seal.ValidID(u.SealID) {
			p := newProblem("seal-not-found", fmt.Sprintf("%q is not a seal id", u.SealID))
			p.Field = "seal_id"
			writeProblem(w, r, p)
			return
		}
		if !seal.ValidAuthorizationID(u.AuthorizationID) {
			p := newProblem("authorization-not-found", fmt.Sprintf("%q is not an authorization id", u.AuthorizationID))
			p.Field = "authorization_id"
			writeProblem(w, r, p)
			return
		}
	}
	if p, err := s.checkStampScope(r, apiKeyFrom(r), uses, req.DocumentID); p != nil || err != nil {
		if err != nil {
			s.fail(w, r, err)
		} else {
			writeProblem(w, r, p)
		}
		return
	}
	idem := r.Header.Get("Idempotency-Key")
	if len(idem) > 255 {
		p := newProblem("invalid-field", "Idempotency-Key: at most 255 characters")
		p.Field = "Idempotency-Key"
		writeProblem(w, r, p)
		return
	}
	if idem != "" {
		// Scope the key to the presenting API key, so clients cannot collide.
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		idem = hex.EncodeToString(sum[:]) + ":" + idem
	}
	stamped, err := s.Service.Stamp(r.Context(), seal.StampRequest{
		SealID: req.SealID, AuthorizationID: req.AuthorizationID, Placement: req.Placement,
		Record: req.Record, IdempotencyKey: idem, PDF: pdfBytes, Timestamp: req.Timestamp,
		Seals: req.Seals, BaseDocumentID: req.DocumentID, QR: req.QR, SESignature: req.SESignature, LTV: req.LTV,
		Unit: apiKeyFrom(r).Unit, Profile: profile,
	})
	if err != nil {
		s.metrics.stampResult(apiKeyFrom(r).Unit, uses[0].SealID, problemFor(err))
		if p := authorizationOutOfScope(apiKeyFrom(r), err); p != nil {
			writeProblem(w, r, p)
			return
		}
		s.fail(w, r, err)
		return
	}
	for _, u := range uses {
		s.metrics.stampResult(apiKeyFrom(r).Unit, u.SealID, nil)
	}
	for _, w := range stamped.Warnings {
		s.metrics.stampWarnings.WithLabelValues(w).Inc()
	}
	resp := stampResponse{
		DocumentID: stamped.DocumentID, RetrievalCode: stamped.RetrievalCode, Replayed: stamped.Replayed, Warnings: stamped.Warnings,
		VerifyURL: s.PublicURL + "/v/" + stamped.DocumentID, Record: stamped.Record,
	}
	if stamped.RetrievalCode != "" {
		resp.DownloadURL = s.PublicURL + "/d/" + stamped.RetrievalCode
	}
	w.Header().Set("Location", "/v1/documents/"+stamped.DocumentID)
	if stamped.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, resp)
}

// committedRecord returns the record of a committed document, or a 404
// problem for anything else (including staged, uncommitted documents).
func (s *Server) committedRecord(w http.ResponseWriter, r *http.Request, id string) (*archive.Record, bool) {
	rec, err := s.Service.Documents().CommittedRecord(r.Context(), id)
	if errors.Is(err, archive.ErrNotFound) {
		writeProblem(w, r, newProblem("not-found", "no such document"))
		return nil, false
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return rec, true
}

func (s *Server) showDocument(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.readableRecord(w, r); ok {
		if err := s.logAPIUse(r, audit.RecordViewed, rec.DocumentID); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rec)
	}
}

func (s *Server) documentPDF(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.readableRecord(w, r); ok {
		if err := s.logAPIUse(r, audit.RecordDownloaded, rec.DocumentID); err != nil {
			s.fail(w, r, err)
			return
		}
		s.sendPDF(w, r, rec)
	}
}

// readableRecord is committedRecord for the document of the route, refused
// to a key none of whose seals stamped it.
func (s *Server) readableRecord(w http.ResponseWriter, r *http.Request) (*archive.Record, bool) {
	id := mux.Vars(r)["doc_id"]
	rec, ok := s.committedRecord(w, r, id)
	if k := apiKeyFrom(r); ok && !k.reachesRecord(rec) {
		writeProblem(w, r, documentOutOfScope(k, id))
		return nil, false
	}
	return rec, ok
}

// documentSESignature returns the GB/T 38540 SES_Signature kept beside a
// document for its n-th seal (1-based, as in the record's signatures), when
// the stamping asked for one (ses_signature).
func (s *Server) documentSESignature(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.readableRecord(w, r)
	if !ok {
		return
	}
	n, err := strconv.Atoi(mux.Vars(r)["n"])
	if err != nil || n < 1 || n > len(rec.Signatures) || rec.Signatures[n-1].SESignatureKey == "" {
		writeProblem(w, r, newProblem("not-found", fmt.Sprintf("document %s has no SES_Signature for seal %s", rec.DocumentID, mux.Vars(r)["n"])))
		return
	}
	b, _, err := archive.GetBytes(r.Context(), s.Store, rec.Signatures[n-1].SESignatureKey)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-ses-%d.der"`, rec.DocumentID, n))
	_, _ = w.Write(b)
}

// sendPDF sends a stored document, pinned to what its commit stored.
func (s *Server) sendPDF(w http.ResponseWriter, r *http.Request, rec *archive.Record) {
	ra, size, done, err := s.openArchived(r.Context(), rec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer done()
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Length", fmt.Sprint(size))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.FileName}))
	w.Header().Set("Cache-Control", "private, no-store")
	if _, err := io.Copy(w, io.NewSectionReader(ra, 0, size)); err != nil {
		s.Log.Warn("sending a document", "document", rec.DocumentID, "err", err)
	}
}

// verify checks a PDF sent as the body (application/pdf). The body is
// streamed: hashed while read, kept in memory only up to Limits.SpoolBytes
// and in a temporary file past that. At most Limits.VerifyUploads run at
// once; another waits up to Limits.BusyWait for a slot, its body unread,
// and is then answered 503 with Retry-After. Reports
// of uploads are not cached: a crafted PDF can make a large one.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/pdf" && mt != "application/octet-stream" {
		writeProblem(w, r, newProblem("unsupported-media-type", "send the PDF as the body with Content-Type: application/pdf"))
		return
	}
	if r.ContentLength > s.Limits.MaxPDFBytes {
		writeProblem(w, r, newProblem("body-too-large", fmt.Sprintf("the body is limited to %d bytes", s.Limits.MaxPDFBytes)))
		return
	}
	// One client's uploads first, so that one waiting for its own holds
	// none of the slots every client shares.
	start := time.Now()
	client := slotClient(s.clientOf(r))
	if !s.uploadClients.acquire(r.Context(), client, s.Limits.BusyWait) {
		s.metrics.rateLimited.WithLabelValues("verify_client").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
		w.Header().Set("Connection", "close")
		writeProblem(w, r, newProblem("rate-limited", fmt.Sprintf("at most %d uploads to verify from one address at once; retry after %d s", s.Limits.UploadsPerClient, busyRetryAfter)))
		return
	}
	defer s.uploadClients.release(client)
	if !s.takeSlot(w, r, s.uploads, max(s.Limits.BusyWait-time.Since(start), 0), "verify_upload", "verifications of uploaded PDFs") {
		return
	}
	defer s.uploads.release()
	paced := s.pace(w, r, "verify_upload")
	body, err := spool(http.MaxBytesReader(w, r.Body, s.Limits.MaxPDFBytes), s.SpoolDir, s.Limits.SpoolBytes)
	paced.done()
	if paced.tooSlow(w) {
		if err == nil {
			body.Close()
		}
		writeProblem(w, r, slowBodyProblem(s.Limits))
		return
	}
	var local *spoolFileError
	if errors.As(err, &local) {
		s.fail(w, r, err) // the server's disk, not the client's body
		return
	}
	if err != nil {
		writeProblem(w, r, bodyProblem(err))
		return
	}
	defer body.Close()
	if !looksLikePDF(body.head) {
		writeProblem(w, r, newProblem("not-a-pdf", "the body does not start with a PDF header (%PDF-)"))
		return
	}
	rep, err := s.verifier(r.Context()).VerifyPDF(r.Context(), body, body.size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.metrics.verifications.WithLabelValues(string(rep.Verdict)).Inc()
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) verifier(ctx context.Context) *seal.Verifier {
	ts, err := s.Registry.TrustStore(ctx)
	if err != nil {
		s.Log.Warn("loading the trust store", "err", err)
	}
	return &seal.Verifier{Trust: ts, Registry: s.Registry}
}

// looksLikePDF reports whether b has a PDF header in its first kilobyte, where
// ISO 32000 lets readers look for it.
func looksLikePDF(b []byte) bool {
	return bytes.Contains(b[:min(len(b), 1024)], []byte("%PDF-"))
}

type holdRequest struct {
	On     bool   `json:"on"`
	Reason string `json:"reason"`
}

// holdDocument sets or releases a legal hold (role archivist).
func (s *Server) holdDocument(w http.ResponseWriter, r *http.Request) {
	var req holdRequest
	if p := s.readJSON(w, r, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	ev, err := s.Service.Documents().SetLegalHold(r.Context(), mux.Vars(r)["doc_id"], req.On, req.Reason, apiKeyFrom(r).Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

// tsa serves the embedded RFC 3161 time-stamping authority (role stamper),
// so other systems of the organisation can timestamp with it too.
func (s *Server) tsa(w http.ResponseWriter, r *http.Request) {
	srv, err := s.Registry.TSA(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	srv.ServeHTTP(w, r)
}
