package api

// Passkeys over HTTP: the enrolment page a responsible person opens once on
// their phone to register a passkey, the approval page where they approve or
// refuse a request with it, and the JSON endpoints those pages call. Like
// the SM2 approval these take no API key: the enrolment token, then the
// passkey's assertion, is the credential.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"eseal/seal"
)

// The two pages carry one small inline script each, allowed by a per-page
// nonce: it converts the options to what navigator.credentials expects and
// posts the authenticator's answer back. "passkey-js" holds what they share
// with the console's sign-in and passkey pages (console_pages.go).
var passkeyPages = sync.OnceValue(func() *template.Template {
	return template.Must(template.Must(pages().Clone()).Parse(`
{{define "passkey-js"}}
const b64u = s => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0));
const enc = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const show = (text, ok) => { const r = document.getElementById('result'); r.textContent = text; r.className = 'verdict ' + (ok ? 'VALID' : 'INVALID'); };
async function post(url, body, headers) {
  const r = await fetch(url, {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, headers || {}), body: JSON.stringify(body)});
  const j = await r.json();
  if (!r.ok) throw new Error(j.detail || j.title || r.status);
  return j;
}
async function registration(opts) {
  const pk = opts.publicKey;
  pk.challenge = b64u(pk.challenge);
  pk.user.id = b64u(pk.user.id);
  (pk.excludeCredentials || []).forEach(c => { c.id = b64u(c.id); });
  const c = await navigator.credentials.create({publicKey: pk});
  return {id: c.id, rawId: enc(c.rawId), type: c.type,
    response: {attestationObject: enc(c.response.attestationObject), clientDataJSON: enc(c.response.clientDataJSON), transports: c.response.getTransports ? c.response.getTransports() : []},
    clientExtensionResults: c.getClientExtensionResults()};
}
async function assertion(opts) {
  const pk = opts.publicKey;
  pk.challenge = b64u(pk.challenge);
  (pk.allowCredentials || []).forEach(c => { c.id = b64u(c.id); });
  const c = await navigator.credentials.get({publicKey: pk});
  const res = {authenticatorData: enc(c.response.authenticatorData), clientDataJSON: enc(c.response.clientDataJSON), signature: enc(c.response.signature)};
  if (c.response.userHandle) res.userHandle = enc(c.response.userHandle);
  return {id: c.id, rawId: enc(c.rawId), type: c.type, response: res, clientExtensionResults: c.getClientExtensionResults()};
}
{{end}}
{{define "enrol"}}{{template "head" "登记通行密钥"}}
<h1>登记通行密钥 Register a passkey</h1>
<dl><dt>负责人</dt><dd id="person">{{.Person.Name}}</dd><dt>印章</dt><dd>{{.SealName}}</dd>
<dt>有效至</dt><dd>{{.Expires}}</dd></dl>
{{if .Problem}}<p class="verdict INVALID" id="result">{{.Problem}}</p>{{else}}
<p>用本机的指纹、面容或锁屏密码登记一个通行密钥。以后每次用印，都要您在审批页面用它确认。</p>
<p><button class="btn" id="register">登记 Register</button></p>
<p id="result"></p>
<script nonce="{{.Nonce}}">
{{template "passkey-js"}}
const opts = {{.Options}};
document.getElementById('register').addEventListener('click', async () => {
  try {
    await post({{.PostURL}}, await registration(opts));
    document.getElementById('register').remove();
    show('已登记 Registered', true);
  } catch (e) { show('未登记：' + e.message, false); }
});
</script>{{end}}</body></html>{{end}}
{{define "approve"}}{{template "head" "用印审批"}}
<h1>用印审批 Approve the use of a seal</h1>
<dl><dt>印章</dt><dd id="seal">{{.Req.SealName}}</dd><dt>办件编号</dt><dd id="case">{{.Req.CaseNo}}</dd>
<dt>事项</dt><dd id="title">{{.Req.Title}}</dd>
<dt>文件 SM3</dt><dd style="word-break:break-all">{{if .Req.DocumentSM3}}{{.Req.DocumentSM3}}{{else}}（未指定 any document of this case）{{end}}</dd>
<dt>可用次数</dt><dd>{{.Req.MaxUses}}</dd><dt>申请方</dt><dd>{{.Req.RequestedBy}}</dd>
<dt>有效至</dt><dd>{{.Expires}}</dd><dt>状态</dt><dd id="status">{{.Req.Status}}</dd></dl>
{{if .Document}}<figure id="document" style="margin:0 0 1em"><img src="{{.Document}}/page-1.svg" alt="第 1 页 page 1" style="width:100%;height:auto;border:1px solid #ccc">
<figcaption>第 1 页（文字预览 text of page 1）· <a href="{{.Document}}/document.pdf">完整文件 the whole PDF</a></figcaption></figure>{{end}}
{{if .Problem}}<p class="verdict INVALID" id="result">{{.Problem}}</p>{{else}}
<p>批准即以您的通行密钥签署这一次用印授权。</p>
<p><button class="btn" id="approve">批准 Approve</button></p>
<p><input id="reason" maxlength="512" placeholder="拒绝理由 reason" style="font-size:1em;padding:.4em;width:70%">
<button id="refuse" style="font-size:1em;padding:.4em">拒绝 Refuse</button></p>
<p id="result"></p>
<script nonce="{{.Nonce}}">
{{template "passkey-js"}}
const opts = {{.Options}};
const done = () => { document.getElementById('approve').disabled = true; document.getElementById('refuse').disabled = true; };
document.getElementById('approve').addEventListener('click', async () => {
  try {
    const a = await post({{.ApproveURL}}, await assertion(opts));
    done(); document.getElementById('status').textContent = 'approved';
    show('已批准 Approved: ' + a.authorization_id, true);
  } catch (e) { show('未批准：' + e.message, false); }
});
document.getElementById('refuse').addEventListener('click', async () => {
  try {
    const reason = document.getElementById('reason').value.trim() || '拒绝 refused';
    const o = await post({{.RefusalOptionsURL}}, {reason: reason});
    await post({{.RefuseURL}}, {reason: reason, credential: await assertion(o)});
    done(); document.getElementById('status').textContent = 'refused';
    show('已拒绝 Refused', true);
  } catch (e) { show('未拒绝：' + e.message, false); }
});
</script>{{end}}</body></html>{{end}}`))
})

// renderScriptPage renders a passkey page whose one inline script carries nonce.
func renderScriptPage(w http.ResponseWriter, status int, name, nonce string, data any) {
	var buf bytes.Buffer
	if err := passkeyPages().ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; script-src 'nonce-"+nonce+"'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// relyingParty is eseal as a WebAuthn relying party, from PublicURL.
func (s *Server) relyingParty() (*seal.RelyingParty, *Problem) {
	rp, err := seal.NewRelyingParty(s.PublicURL)
	if err != nil {
		return nil, newProblem("passkeys-unavailable", err.Error()+" (set public_url)")
	}
	return rp, nil
}

// enrolPasskeyPerson answers POST /v1/seals/{seal_id}/persons with
// "passkey": true: the person, enrolling, and their one-time enrolment URL.
func (s *Server) enrolPasskeyPerson(w http.ResponseWriter, r *http.Request, req personRequest) {
	if _, p := s.relyingParty(); p != nil {
		writeProblem(w, r, p)
		return
	}
	if req.Certificate != "" {
		p := newProblem("invalid-field", "certificate: a person enrols either a certificate or a passkey")
		p.Field = "certificate"
		writeProblem(w, r, p)
		return
	}
	p, token, err := s.Registry.EnrolPasskeyPerson(r.Context(), seal.PersonSpec{SealID: mux.Vars(r)["seal_id"], Name: req.Name,
		By: apiKeyFrom(r).Name}, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/persons/"+p.ID)
	writeJSON(w, http.StatusCreated, struct {
		*seal.Person
		EnrolmentURL string `json:"enrolment_url"`
	}{p, s.PublicURL + "/enrol/" + token})
}

// invitePasskey answers POST /v1/persons/{person_id}/passkeys: a one-time
// link at which an enrolled passkey person registers one more passkey (a
// second phone, a security key, a new phone for a lost one).
func (s *Server) invitePasskey(w http.ResponseWriter, r *http.Request) {
	if _, p := s.relyingParty(); p != nil {
		writeProblem(w, r, p)
		return
	}
	p, token, exp, err := s.Registry.InvitePasskey(r.Context(), mux.Vars(r)["person_id"], apiKeyFrom(r).Name, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"person_id": p.ID, "enrolment_url": s.PublicURL + "/enrol/" + token,
		"expires_at": exp.Format(time.RFC3339)})
}

// listPasskeys answers GET /v1/persons/{person_id}/passkeys.
func (s *Server) listPasskeys(w http.ResponseWriter, r *http.Request) {
	pks, err := s.Registry.PersonPasskeys(r.Context(), mux.Vars(r)["person_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pks)
}

// removePasskey answers POST
// /v1/persons/{person_id}/passkeys/{credential_id}/remove: the passkey
// approves nothing more; what it approved stays.
func (s *Server) removePasskey(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readReason(w, r)
	if !ok {
		return
	}
	v := mux.Vars(r)
	pk, err := s.Registry.RemovePasskey(r.Context(), v["person_id"], v["credential_id"], req.Reason, apiKeyFrom(r).Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pk)
}

type enrolPageData struct {
	Person            *seal.Person
	SealName, Expires string
	Problem           string
	Nonce             string
	Options           any
	PostURL           string
}

func (s *Server) enrolPage(w http.ResponseWriter, r *http.Request) {
	token := mux.Vars(r)["token"]
	d := enrolPageData{Person: &seal.Person{}, Nonce: newNonce(), PostURL: "/v1/enrolments/" + token}
	status := http.StatusOK
	rp, prob := s.relyingParty()
	p, err := s.Registry.PasskeyEnrolment(r.Context(), token)
	switch {
	case prob != nil:
		d.Problem, status = prob.Detail, prob.Status
	case err != nil:
		prob = problemFor(err)
		d.Problem, status = prob.Detail, prob.Status
	default:
		d.Person = p
		if sl, err := s.Registry.Get(r.Context(), p.SealID); err == nil {
			d.SealName = sl.Name
		}
		if p.EnrolmentExpires != nil {
			d.Expires = p.EnrolmentExpires.In(pageZone().loc).Format("2006-01-02 15:04")
		}
		cc, _, err := rp.CreationOptions(p, token)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Options = cc
	}
	renderScriptPage(w, status, "enrol", d.Nonce, d)
}

// readPasskeyBody reads a WebAuthn response body, bounded.
func readPasskeyBody(w http.ResponseWriter, r *http.Request) ([]byte, *Problem) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, seal.MaxPasskeyResponse))
	if err != nil {
		return nil, newProblem("body-too-large", "a WebAuthn response of at most 16 KiB is expected")
	}
	return b, nil
}

// passkeyResponse reads the relying party and a WebAuthn response body, the
// start of every route that takes one; nil when it wrote a problem instead.
func (s *Server) passkeyResponse(w http.ResponseWriter, r *http.Request) (*seal.RelyingParty, []byte) {
	rp, p := s.relyingParty()
	if p == nil {
		var body []byte
		if body, p = readPasskeyBody(w, r); p == nil {
			return rp, body
		}
	}
	writeProblem(w, r, p)
	return nil, nil
}

func (s *Server) registerPasskey(w http.ResponseWriter, r *http.Request) {
	rp, body := s.passkeyResponse(w, r)
	if rp == nil {
		return
	}
	person, err := s.Registry.RegisterPasskey(r.Context(), rp, mux.Vars(r)["token"], body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, person)
}

type approvePageData struct {
	Req                                      *seal.RequestState
	Expires                                  string
	Problem                                  string
	Nonce                                    string
	Options                                  any
	ApproveURL, RefusalOptionsURL, RefuseURL string
	// Document is the path under which the request's document is shown
	// (/approve/<id>), when the request carried one.
	Document string
}

// approvePage is approve_url: the request as the person decides it.
func (s *Server) approvePage(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["request_id"]
	base := "/v1/authorization-requests/" + id
	d := approvePageData{Req: &seal.RequestState{}, Nonce: newNonce(), ApproveURL: base + "/passkey-approve",
		RefusalOptionsURL: base + "/refusal-options", RefuseURL: base + "/passkey-refuse"}
	status := http.StatusOK
	rp, prob := s.relyingParty()
	st, err := s.Registry.AuthorizationRequest(r.Context(), id)
	if err == nil {
		d.Req = st
		d.Expires = st.ExpiresAt.In(pageZone().loc).Format("2006-01-02 15:04:05")
		if has, herr := s.Registry.HasRequestDocument(r.Context(), id); herr == nil && has {
			d.Document = "/approve/" + id
		}
	}
	switch {
	case err != nil:
		prob = problemFor(err)
	case prob != nil:
	case st.Status != seal.RequestPending:
		d.Problem = "此申请已" + map[seal.RequestStatus]string{seal.RequestApproved: "批准 approved", seal.RequestRefused: "拒绝 refused",
			seal.RequestExpired: "过期 expired"}[st.Status]
	default:
		o, err := s.Registry.AssertionOptions(r.Context(), rp, st, st.Challenge)
		if err != nil {
			prob = problemFor(err)
		}
		d.Options = o
	}
	if prob != nil {
		d.Problem, status = prob.Detail, prob.Status
	}
	renderScriptPage(w, status, "approve", d.Nonce, d)
}

func (s *Server) approvePasskey(w http.ResponseWriter, r *http.Request) {
	rp, body := s.passkeyResponse(w, r)
	if rp == nil {
		return
	}
	a, err := s.Registry.ApprovePasskey(r.Context(), rp, mux.Vars(r)["request_id"], body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/authorizations/"+a.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"authorization_id": a.ID, "person_id": a.PersonID, "person_name": a.PersonName, "method": string(a.Method)})
}

// passkeyRefusal is the JSON of POST …/refusal-options and …/passkey-refuse.
type passkeyRefusal struct {
	Reason     string          `json:"reason"`
	Credential json.RawMessage `json:"credential,omitempty"`
}

// readRefusal reads the relying party and a passkey refusal's body, the
// start of both refusal routes; nil when it answered a problem instead.
func (s *Server) readRefusal(w http.ResponseWriter, r *http.Request) (*seal.RelyingParty, passkeyRefusal) {
	var req passkeyRefusal
	rp, p := s.relyingParty()
	if p == nil {
		if p = s.readJSON(w, r, &req); p == nil {
			return rp, req
		}
	}
	writeProblem(w, r, p)
	return nil, req
}

// refusalOptions gives the assertion options of a refusal with a reason:
// its challenge is SM3 of the refusal bytes, which the page cannot compute.
func (s *Server) refusalOptions(w http.ResponseWriter, r *http.Request) {
	rp, req := s.readRefusal(w, r)
	if rp == nil {
		return
	}
	st, err := s.Registry.AuthorizationRequest(r.Context(), mux.Vars(r)["request_id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if st.Status != seal.RequestPending {
		writeProblem(w, r, newProblem("request-decided", "the request is "+string(st.Status)))
		return
	}
	o, err := s.Registry.AssertionOptions(r.Context(), rp, st, seal.RefusalBytes(st.Challenge, req.Reason))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) refusePasskey(w http.ResponseWriter, r *http.Request) {
	rp, req := s.readRefusal(w, r)
	if rp == nil {
		return
	}
	if len(req.Credential) == 0 {
		p := newProblem("invalid-field", "credential: the passkey's assertion over the refusal; knowing a request id does not refuse it")
		p.Field = "credential"
		writeProblem(w, r, p)
		return
	}
	st, err := s.Registry.RefusePasskey(r.Context(), rp, mux.Vars(r)["request_id"], req.Reason, req.Credential)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeRequestView(w, r, http.StatusOK, st)
}

// passkeyProblem maps a PasskeyError.
func passkeyProblem(pe *seal.PasskeyError) *Problem {
	return newProblem(string(pe.Reason), pe.Error())
}
