package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"sync"

	"eseal/archive"
	"eseal/archive/index"
	"eseal/archive/lifecycle"
	"eseal/pdf"
	"eseal/seal"
)

// Problem is an RFC 9457 problem detail. Type is stable per kind of error, so
// clients branch on it; Detail is for people.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
	// DocumentIDs names the documents a problem is about: for
	// revoke-too-late, those whose stampings committed before the revoke.
	DocumentIDs []string `json:"document_ids,omitempty"`
}

// problemKinds lists every problem type the API answers with: slug → status
// and title. /problems/{slug} documents each.
var problemKinds = map[string]struct {
	status int
	title  string
}{
	"unauthenticated":              {401, "Missing or unknown API key"},
	"key-revoked":                  {401, "The API key was revoked"},
	"forbidden":                    {403, "The API key's role does not allow this request"},
	"seal-out-of-scope":            {403, "The API key is not for this seal"},
	"unit-out-of-scope":            {403, "What the request reaches belongs to another unit than the API key's"},
	"unit-not-found":               {404, "Unknown unit"},
	"unit-exists":                  {409, "A unit with this code exists already"},
	"key-not-found":                {404, "Unknown API key id"},
	"not-found":                    {404, "No such resource"},
	"method-not-allowed":           {405, "Method not allowed"},
	"body-too-large":               {413, "Request body too large"},
	"unsupported-media-type":       {415, "Unsupported content type"},
	"malformed-request":            {400, "Malformed request"},
	"invalid-field":                {422, "A request field is invalid"},
	"invalid-query":                {400, "A query parameter is invalid"},
	"not-a-pdf":                    {422, "The file is not a PDF"},
	"broken-pdf":                   {422, "The PDF is damaged"},
	"encrypted-pdf":                {422, "Encrypted PDFs cannot be stamped"},
	"page-out-of-range":            {422, "The page does not exist"},
	"placement-off-page":           {422, "The seal would lie outside the page"},
	"keyword-not-found":            {422, "The keyword to place the seal on is not in the document"},
	"timestamp-unavailable":        {503, "A timestamp is required and the TSA did not answer"},
	"seal-not-found":               {404, "Unknown seal"},
	"seal-not-active":              {409, "The seal is suspended, revoked or outside its validity"},
	"seal-conflict":                {409, "The seal cannot change to that state"},
	"certificate-revoked":          {409, "The seal's signer certificate is revoked or not valid now"},
	"authorization-not-found":      {404, "Unknown authorization"},
	"authorization-expired":        {409, "The authorization has expired"},
	"authorization-revoked":        {409, "The authorization was revoked"},
	"authorization-consumed":       {409, "The authorization has been used"},
	"authorization-wrong-seal":     {409, "The authorization is for another seal"},
	"authorization-wrong-document": {409, "The authorization is for another document"},
	"authorization-wrong-case":     {409, "The authorization is for another case"},
	"authorization-bad-signature":  {500, "The stored authorization does not verify"},
	"revoke-too-late":              {409, "The revoke came too late: stampings used every use of the authorization"},
	"authorization-policy":         {409, "The seal's policy needs a responsible person's approval"},
	"person-not-found":             {404, "Unknown responsible person"},
	"person-not-enrolled":          {403, "The person is not enrolled for this seal"},
	"person-removed":               {403, "The person was removed and approves nothing more"},
	"person-certificate-untrusted": {403, "The person's certificate does not chain to a trusted CA for persons, is outside its validity, is revoked, or its revocation cannot be checked"},
	"request-not-found":            {404, "Unknown authorization request"},
	"request-expired":              {409, "The authorization request has expired"},
	"request-decided":              {409, "The authorization request was already approved or refused"},
	"signature-invalid":            {403, "The signature does not verify with the person's enrolled certificate over this request"},
	"no-responsible-person":        {409, "No responsible person is enrolled for the seal"},
	"enrolment-not-found":          {404, "Unknown enrolment link"},
	"enrolment-expired":            {410, "The enrolment link has expired"},
	"enrolment-used":               {409, "The enrolment link was used already"},
	"passkey-exists":               {409, "The API key has a passkey already"},
	"passkey-invalid":              {403, "The passkey response does not verify for this request, origin and relying party"},
	"passkey-unknown":              {403, "The passkey is not one enrolled for the seal"},
	"passkey-removed":              {403, "The passkey was removed and approves nothing more"},
	"passkey-replayed":             {403, "The passkey's signature counter did not advance: a replay or a cloned passkey"},
	"passkeys-unavailable":         {503, "Passkeys need the service's public URL"},
	"idempotency-key-reused":       {422, "The Idempotency-Key was used for a different request"},
	"rate-limited":                 {429, "Too many attempts"},
	"body-too-slow":                {408, "The request's body arrived too slowly"},
	"server-busy":                  {503, "The server is at its limit for this kind of request"},
	"store-unavailable":            {503, "The archive store is unavailable"},
	"audit-unavailable":            {503, "The audit log could not record the change, so it was not made"},
	"internal":                     {500, "Internal error"},
	"document-altered":             {500, "The stored document differs from what its stamping committed; it is not served"},
}

const problemBase = "/problems/"

func newProblem(slug, detail string) *Problem {
	k, ok := problemKinds[slug]
	if !ok {
		panic("api: unknown problem kind " + slug)
	}
	return &Problem{Type: problemBase + slug, Title: k.title, Status: k.status, Detail: detail}
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// writeProblem sends a problem+json answer.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}

// problemFor maps an error from the packages below to a problem.
func problemFor(err error) *Problem {
	var (
		p    *Problem
		nf   *seal.NotFoundError
		se   *seal.StateError
		inv  *seal.InvalidError
		pic  *seal.PictureError
		ae   *seal.AuthzError
		late *seal.RevokeTooLateError
		ie   *seal.InputError
		lie  *lifecycle.InputError
		idem *seal.IdempotencyError
		fe   *pdf.FormatError
		pre  *pdf.PageRangeError
		ple  *pdf.PlacementError
		ce   *seal.CertificateError
		tnf  *pdf.TextNotFoundError
		spe  *seal.PlacementError
		te   *seal.TimestampError
		ke   *archive.KeyError
		kse  *KeySpecError
		knf  *KeyNotFoundError
		unf  *seal.UnitNotFoundError
		uex  *seal.UnitExistsError
		use  *UnitScopeError
		aue  *seal.AuditError
		qe   *index.QueryError
	)
	if dp := asDecisionProblem(err); dp != nil {
		return dp
	}
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &aue):
		return newProblem("audit-unavailable", fmt.Sprintf("the audit log could not record %s, so it was not done; try again later", aue.Action))
	case errors.As(err, &nf):
		return newProblem("seal-not-found", nf.Error())
	case errors.As(err, &unf):
		return newProblem("unit-not-found", unf.Error())
	case errors.As(err, &uex):
		return newProblem("unit-exists", uex.Error())
	case errors.As(err, &use):
		return newProblem("unit-out-of-scope", use.Error())
	case errors.As(err, &tnf):
		q := newProblem("keyword-not-found", tnf.Error())
		q.Field = "placement.keyword"
		return q
	case errors.As(err, &spe):
		q := newProblem("invalid-field", spe.Error())
		q.Field = "placement"
		return q
	case errors.As(err, &te):
		return newProblem("timestamp-unavailable", te.Error())
	case errors.As(err, &ce):
		return newProblem("certificate-revoked", ce.Error())
	case errors.As(err, &se):
		return newProblem("seal-not-active", se.Error())
	case errors.As(err, &inv):
		return newProblem("invalid-field", inv.Error())
	case errors.As(err, &pic):
		return newProblem("invalid-field", pic.Error())
	case errors.As(err, &late):
		q := newProblem("revoke-too-late", late.Error())
		q.DocumentIDs = late.DocumentIDs
		return q
	case errors.As(err, &ae):
		return newProblem("authorization-"+string(ae.Reason), ae.Error())
	case errors.As(err, &ie):
		q := newProblem("invalid-field", ie.Error())
		q.Field = ie.Field
		return q
	case errors.As(err, &lie):
		q := newProblem("invalid-field", lie.Error())
		q.Field = lie.Field
		return q
	case errors.As(err, &idem):
		return newProblem("idempotency-key-reused", idem.Error())
	case errors.Is(err, pdf.ErrEncrypted):
		return newProblem("encrypted-pdf", err.Error())
	case errors.As(err, &fe):
		return newProblem("broken-pdf", err.Error())
	case errors.As(err, &pre):
		return newProblem("page-out-of-range", err.Error())
	case errors.As(err, &ple):
		return newProblem("placement-off-page", err.Error())
	case errors.As(err, &kse):
		q := newProblem("invalid-field", kse.Error())
		q.Field = kse.Field
		return q
	case errors.As(err, &knf):
		return newProblem("key-not-found", knf.Error())
	case errors.As(err, &qe):
		q := newProblem("invalid-query", qe.Field+": "+qe.Reason)
		q.Field = qe.Field
		return q
	case errors.As(err, &ke):
		return newProblem("not-found", err.Error())
	case errors.Is(err, archive.ErrAltered):
		return newProblem("document-altered", "the archive reports it in fixity; an archivist must restore it from a backup")
	case errors.Is(err, archive.ErrNotFound):
		return newProblem("not-found", "no such resource")
	}
	return newProblem("internal", "the request failed; the error is in the server log")
}

var problemsPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("problems").Parse(`<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>eseal problem types</title>
<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:1em auto;padding:0 1em}td{padding:.2em .6em}</style>
<h1>eseal problem types</h1>
<p>Errors are <code>application/problem+json</code> (RFC 9457); <code>type</code> is one of these.</p>
<table>{{range .}}<tr id="{{.Slug}}"><td><code>/problems/{{.Slug}}</code><td>{{.Status}}<td>{{.Title}}</tr>
{{end}}</table>`))
})

type problemDoc struct {
	Slug   string
	Status int
	Title  string
}

func problemDocs() []problemDoc {
	var out []problemDoc
	for slug, k := range problemKinds {
		out = append(out, problemDoc{slug, k.status, k.title})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out
}
