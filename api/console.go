package api

// The archivist console (/console/): server-rendered pages where archivists
// find, read, hold and hand over the records of their unit (利用). This file
// is its door: sign-in with an archivist API key, the session a cookie names,
// the CSRF token every form carries, and the routes. The pages are in
// console_pages.go, the 利用登记 (every view and download logged) in
// console_trail.go, the transfers in console_transfer.go.
//
// Sessions live in this replica's memory: a replica that restarts forgets
// them (its archivists sign in again), and behind a load balancer the
// console needs sticky sessions. Nothing else is kept here: what an
// archivist does goes to the store and the audit log like any REST call.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"eseal/archive"
)

const (
	// consoleCookie names the session; consoleSignInCookie carries the
	// token of the sign-in form (there is no session yet to hold it).
	consoleCookie       = "eseal_console"
	consoleSignInCookie = "eseal_console_signin"
	// A session ends after consoleIdle without a request, and at the
	// latest consoleLifetime after sign-in.
	consoleIdle     = 30 * time.Minute
	consoleLifetime = 8 * time.Hour
	// consoleMaxSessions bounds the table; past it the oldest are dropped.
	consoleMaxSessions = 10000
	// consoleMaxForm bounds a console form body.
	consoleMaxForm = 16 << 10
)

// consoleSession is one signed-in archivist.
type consoleSession struct {
	// csrf is the token every form of the session carries.
	csrf string
	// keyObject names the key's stored description: the key is read again
	// on every request, so revoking it ends its sessions at once.
	keyObject string
	// key is the key as read by the current request.
	key           *APIKey
	created, seen time.Time
	// purposes holds the purpose stated for each record opened (利用目的),
	// by document id: the record's page is shown once one is stated.
	purposes map[string]string
	// registration is the passkey registration begun on the passkey page.
	registration *webauthn.SessionData
}

// consoleSessions is the session table of one replica, keyed by the SHA-256
// of the session id (the id itself is only in the archivist's cookie).
type consoleSessions struct {
	mu   sync.Mutex
	byID map[string]*consoleSession
	// logins are the passkey sign-ins begun, by the sign-in form's token.
	logins map[string]passkeyLogin
}

type passkeyLogin struct {
	sd      *webauthn.SessionData
	expires time.Time
}

func newConsoleSessions() *consoleSessions {
	return &consoleSessions{byID: map[string]*consoleSession{}, logins: map[string]passkeyLogin{}}
}

// setLogin keeps the passkey sign-in begun for a sign-in form, as long as
// the form's cookie lives; past consoleMaxSessions the expired ones go,
// then all.
func (t *consoleSessions) setLogin(tok string, sd *webauthn.SessionData, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.logins) >= consoleMaxSessions {
		for k, l := range t.logins {
			if now.After(l.expires) {
				delete(t.logins, k)
			}
		}
		if len(t.logins) >= consoleMaxSessions {
			clear(t.logins)
		}
	}
	t.logins[tok] = passkeyLogin{sd: sd, expires: now.Add(consoleIdle)}
}

// takeLogin returns and forgets the passkey sign-in of a form: each is
// answered once.
func (t *consoleSessions) takeLogin(tok string, now time.Time) *webauthn.SessionData {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.logins[tok]
	delete(t.logins, tok)
	if !ok || now.After(l.expires) {
		return nil
	}
	return l.sd
}

// setRegistration keeps the passkey registration a session began.
func (t *consoleSessions) setRegistration(id string, sd *webauthn.SessionData) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cs, ok := t.byID[sessionHash(id)]; ok {
		cs.registration = sd
	}
}

// takeRegistration returns and forgets the registration a session began.
func (t *consoleSessions) takeRegistration(id string) *webauthn.SessionData {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs, ok := t.byID[sessionHash(id)]
	if !ok {
		return nil
	}
	sd := cs.registration
	cs.registration = nil
	return sd
}

func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// open starts a session for a key and returns its id.
func (t *consoleSessions) open(keyObject string, now time.Time) string {
	id := randomBase32(32)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byID) >= consoleMaxSessions {
		t.sweep(now)
	}
	if len(t.byID) >= consoleMaxSessions {
		// Still full of live sessions: the one idle longest goes.
		var oldest string
		for h, cs := range t.byID {
			if oldest == "" || cs.seen.Before(t.byID[oldest].seen) {
				oldest = h
			}
		}
		delete(t.byID, oldest)
	}
	t.byID[sessionHash(id)] = &consoleSession{csrf: randomBase32(20), keyObject: keyObject, created: now, seen: now, purposes: map[string]string{}}
	return id
}

// get returns a copy of the session id names if it has not expired, and
// marks it seen.
func (t *consoleSessions) get(id string, now time.Time) (consoleSession, bool) {
	if id == "" {
		return consoleSession{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h := sessionHash(id)
	cs, ok := t.byID[h]
	if !ok {
		return consoleSession{}, false
	}
	if cs.expired(now) {
		delete(t.byID, h)
		return consoleSession{}, false
	}
	cs.seen = now
	c := *cs
	c.purposes, c.registration = nil, nil // read under the lock
	return c, true
}

func (cs *consoleSession) expired(now time.Time) bool {
	return now.Sub(cs.seen) > consoleIdle || now.Sub(cs.created) > consoleLifetime || now.Before(cs.created)
}

func (t *consoleSessions) sweep(now time.Time) {
	for h, cs := range t.byID {
		if cs.expired(now) {
			delete(t.byID, h)
		}
	}
}

// close ends a session.
func (t *consoleSessions) close(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byID, sessionHash(id))
}

// purpose returns the purpose the session stated for a record, "" if none.
func (t *consoleSessions) purpose(id, docID string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cs, ok := t.byID[sessionHash(id)]; ok {
		return cs.purposes[docID]
	}
	return ""
}

// setPurpose records the purpose stated for a record. A session keeps at
// most 1000; past that the oldest statement is forgotten (asked again).
func (t *consoleSessions) setPurpose(id, docID, purpose string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs, ok := t.byID[sessionHash(id)]
	if !ok {
		return
	}
	if len(cs.purposes) >= 1000 {
		clear(cs.purposes)
	}
	cs.purposes[docID] = purpose
}

// consoleRequest is what a console handler knows of its request: the
// session, its id and the name of its key's unit.
type consoleRequest struct {
	id, unitName string
	consoleSession
}

type consoleHandler func(w http.ResponseWriter, r *http.Request, cr *consoleRequest)

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// overTLS reports whether the request reached us, or the trusted proxy in
// front of us, over TLS: the session cookie is then marked Secure.
func (s *Server) overTLS(r *http.Request) bool {
	return r.TLS != nil || (s.trusted(peerAddr(r)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// console wraps a console page: without a live session (none, expired, its
// key revoked) it redirects to the sign-in page; a POST must carry the
// session's CSRF token in its form, or is refused with a 403 page.
func (s *Server) console(h consoleHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		c, err := r.Cookie(consoleCookie)
		var id string
		if err == nil {
			id = c.Value
		}
		cs, ok := s.consoleSessions.get(id, s.now())
		if ok {
			k, err := s.keyring().read(r.Context(), cs.keyObject)
			switch {
			case errors.Is(err, archive.ErrNotFound):
				ok = false
			case err != nil:
				s.consoleFail(w, r, err)
				return
			case k.Revoked != nil || k.Role != RoleArchivist:
				ok = false
			default:
				cs.key = k
			}
			if !ok {
				s.consoleSessions.close(id)
			}
		}
		if !ok {
			http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			// A form carries the token as a field, a script's JSON post
			// (the passkey page) in the header X-Csrf-Token.
			tok := r.Header.Get("X-Csrf-Token")
			if tok == "" {
				r.Body = http.MaxBytesReader(w, r.Body, consoleMaxForm)
				if err := r.ParseForm(); err != nil {
					s.consolePage(w, http.StatusBadRequest, "error", nil, consoleMessage{"表单无效", "表单无法读取：" + err.Error()})
					return
				}
				tok = r.PostForm.Get("csrf")
			}
			if !sameToken(tok, cs.csrf) {
				s.consolePage(w, http.StatusForbidden, "error", nil, consoleMessage{"表单已失效", "表单缺少有效的安全令牌（CSRF），未执行任何操作。请返回页面重新提交。"})
				return
			}
		}
		unit, err := s.Registry.Unit(r.Context(), cs.key.Unit)
		if err != nil {
			s.consoleFail(w, r, err)
			return
		}
		h(w, r, &consoleRequest{id: id, unitName: unit.Name, consoleSession: cs})
	}
}

func sameToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// consoleHeaders keeps console pages out of caches and frames.
func consoleHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

// consoleSignInPage shows the sign-in form, with a fresh form token in a
// cookie of its own (a double-submitted token: a sign-in made by another
// site's form cannot carry it).
func (s *Server) consoleSignInPage(w http.ResponseWriter, r *http.Request) {
	consoleHeaders(w)
	s.signInForm(w, r, http.StatusOK, "")
}

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request, status int, problem string) {
	tok := randomBase32(20)
	http.SetCookie(w, &http.Cookie{Name: consoleSignInCookie, Value: tok, Path: "/console/", HttpOnly: true,
		Secure: s.overTLS(r), SameSite: http.SameSiteStrictMode, MaxAge: int(consoleIdle / time.Second)})
	s.consolePage(w, status, "sign-in", &consoleRequest{consoleSession: consoleSession{csrf: tok}},
		&consoleSignInView{Problem: problem, Options: s.consoleLoginOptions(tok), Nonce: newNonce()})
}

// consoleSignInView is the data of the sign-in page: Options, when set,
// let its script sign in with a passkey.
type consoleSignInView struct {
	Problem string
	Options any
	Nonce   string
}

// consoleSignIn checks the archivist key of the sign-in form and opens a
// session. Wrong keys are limited per client like wrong retrieval codes.
func (s *Server) consoleSignIn(w http.ResponseWriter, r *http.Request) {
	consoleHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, consoleMaxForm)
	if err := r.ParseForm(); err != nil {
		s.signInForm(w, r, http.StatusBadRequest, "表单无法读取。")
		return
	}
	c, err := r.Cookie(consoleSignInCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		s.consolePage(w, http.StatusForbidden, "error", nil, consoleMessage{"表单已失效", "登录表单缺少有效的安全令牌（CSRF）。请重新打开登录页面。"})
		return
	}
	client := s.clientOf(r)
	refuse := func(status int, msg string) {
		if !s.signIns.allow(client) {
			s.metrics.rateLimited.WithLabelValues("console_sign_in").Inc()
			w.Header().Set("Retry-After", "60")
			s.signInForm(w, r, http.StatusTooManyRequests, "尝试次数过多，请一分钟后再试。")
			return
		}
		s.signInForm(w, r, status, msg)
	}
	secret := strings.TrimSpace(r.PostForm.Get("key"))
	k, err := s.keyring().Lookup(r.Context(), secret)
	switch {
	case errors.Is(err, archive.ErrNotFound):
		refuse(http.StatusUnauthorized, "密钥无效。")
		return
	case err != nil:
		s.consoleFail(w, r, err)
		return
	case k.Revoked != nil:
		refuse(http.StatusUnauthorized, "此密钥已被吊销。")
		return
	case k.Role != RoleArchivist:
		refuse(http.StatusForbidden, "只有档案员（archivist）密钥可以登录控制台；此密钥的角色是 "+string(k.Role)+"。")
		return
	}
	id := s.consoleSessions.open(descriptionKey(secret), s.now())
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: id, Path: "/console/", HttpOnly: true,
		Secure: s.overTLS(r), SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: consoleSignInCookie, Value: "", Path: "/console/", MaxAge: -1})
	s.Log.Info("console sign-in", "key", k.ID, "name", k.Name, "client", client)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// consoleSignOut ends the session.
func (s *Server) consoleSignOut(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	s.consoleSessions.close(cr.id)
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true,
		Secure: s.overTLS(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}

// consoleRoutes are the console's pages. They take no API key: the
// session stands for the archivist key that opened it.
func (s *Server) consoleRoutes() []route {
	return []route{
		{[]string{"GET"}, "/console", nil, "console_root", http.RedirectHandler("/console/", http.StatusMovedPermanently).ServeHTTP},
		{[]string{"GET"}, "/console/", nil, "console_search", s.console(s.consoleSearch)},
		{[]string{"GET"}, "/console/sign-in", nil, "console_sign_in_page", s.consoleSignInPage},
		{[]string{"POST"}, "/console/sign-in", nil, "console_sign_in", s.consoleSignIn},
		{[]string{"POST"}, "/console/sign-in/passkey", nil, "console_sign_in_passkey", s.consoleSignInPasskey},
		{[]string{"GET"}, "/console/passkey", nil, "console_passkey", s.console(s.consolePasskeyPage)},
		{[]string{"POST"}, "/console/passkey", nil, "console_passkey_register", s.console(s.consolePasskeyRegister)},
		{[]string{"POST"}, "/console/sign-out", nil, "console_sign_out", s.console(s.consoleSignOut)},
		{[]string{"GET"}, "/console/records/{doc_id}", nil, "console_record", s.console(s.consoleRecord)},
		{[]string{"POST"}, "/console/records/{doc_id}/purpose", nil, "console_purpose", s.console(s.consolePurpose)},
		{[]string{"POST"}, "/console/records/{doc_id}/pdf", nil, "console_pdf", s.console(s.consolePDF)},
		{[]string{"POST"}, "/console/records/{doc_id}/hold", nil, "console_hold", s.console(s.consoleHold)},
		{[]string{"GET"}, "/console/transfers", nil, "console_transfers", s.console(s.consoleTransfers)},
		{[]string{"POST"}, "/console/transfers", nil, "console_transfer_create", s.console(s.consoleCreateTransfer)},
		{[]string{"GET"}, "/console/transfers/{transfer_id}", nil, "console_transfer", s.console(s.consoleTransfer)},
		{[]string{"GET"}, "/console/transfers/{transfer_id}/package", nil, "console_transfer_package", s.console(s.consoleTransferPackage)},
		{[]string{"GET"}, "/console/disposal", nil, "console_disposal", s.console(s.consoleDisposal)},
	}
}
