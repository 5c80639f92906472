package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/gorilla/mux"

	"eseal/archive"
	"eseal/seal"
)

// The public pages are plain server-rendered HTML, readable on a phone, with
// no scripts: a citizen downloading a licence at home, a clerk checking one.
// Every template set of this package is parsed on first use (New parses
// them all, so a broken template stops the server at start): a CLI command
// linked into the same binary does not pay for them at start-up.
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("base").Funcs(template.FuncMap{
		"verdictText": func(v seal.Verdict) string {
			switch v {
			case seal.Valid:
				return "有效 VALID"
			case seal.Invalid:
				return "无效 INVALID"
			}
			return "无法确定 INDETERMINATE"
		},
		// changed: VALID, with changes after signing.
		"changed": func(r *seal.Report) bool { return r.Verdict == seal.Valid && r.Summary != string(seal.Valid) },
		// authorizedBy says who authorized a use of a seal (一章一授权) and how.
		"authorizedBy": func(a archive.AuthorizationElement) string {
			switch {
			case a.PersonName != "" && a.Method == string(seal.MethodPasskey):
				return a.PersonName + "（通行密钥 passkey）"
			case a.PersonName != "":
				return a.PersonName + "（个人 SM2 证书签名）"
			}
			return "接口授权 API key: " + a.GrantedBy
		},
		// evidenceOf is the check of an authorization's evidence in a report.
		"evidenceOf": func(r *seal.Report, id string) *seal.AuthorizationCheck {
			if r == nil {
				return nil
			}
			for i := range r.Authorizations {
				if r.Authorizations[i].ID == id {
					return &r.Authorizations[i]
				}
			}
			return nil
		},
		// One clock on every page people read: China time (UTC+8) unless serve's
		// time_zone names another zone, labelled.
		"at":  func(t time.Time) string { return clockText(t) },
		"day": func(t time.Time) string { return t.In(pageZone().loc).Format("2006-01-02") },
		"when": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return clockText(*t)
		},
		"zoneLabel": func() string { return pageZone().label },
	}).Parse(`{{define "head"}}<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}}</title>
<style>
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;max-width:40em;margin:0 auto;padding:1em;line-height:1.5;color:#222}
h1{font-size:1.3em}.verdict{font-size:1.2em;font-weight:bold;padding:.5em;border-radius:.3em}
.VALID{background:#e3f5e1;color:#14591b}.INVALID{background:#fde2e1;color:#8a1512}.INDETERMINATE{background:#fff3cd;color:#6b5200}
.seal{width:7em;height:7em}.btn{display:inline-block;background:#c8161d;color:#fff;padding:.7em 1.4em;border-radius:.3em;text-decoration:none;font-size:1.1em}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2em 1em}dt{color:#666}dd{margin:0}
table{border-collapse:collapse;font-size:.9em}td{border-top:1px solid #ddd;padding:.2em .4em;vertical-align:top}
.later .disallowed{background:#fde2e1}
</style></head><body>{{end}}
{{define "sigs"}}{{range .Signatures}}<h2>{{if .Seal}}{{.Seal.Name}}{{else}}{{.Field}}{{end}}</h2>
{{if .Seal}}<img class="seal" alt="印章图像" src="/v1/seals/{{.Seal.ID}}/picture.png">{{end}}
<p class="verdict {{.Verdict}}">{{verdictText .Verdict}}</p>
<dl><dt>签章时间</dt><dd class="signing-time">{{when .SigningTime}}</dd><dt>签章人证书</dt><dd>{{.Signer}}</dd><dt>页码</dt><dd>{{.Page}}</dd></dl>
<table>{{range .Checks}}<tr><td>{{.Result}}</td><td>{{.Name}}</td><td>{{.Detail}}</td></tr>{{end}}</table>
{{if .LaterChanges}}<h3>签章后的修订 Changes after signing</h3>
<table class="later">{{range .LaterChanges}}<tr class="{{if .Allowed}}allowed{{else}}disallowed{{end}}"><td>修订 {{.Revision}}</td><td>{{.Kind}}{{if .Object}} (object {{.Object}}){{end}}</td><td>{{.Detail}}</td><td>{{if .Allowed}}允许 allowed{{else}}不允许 NOT ALLOWED{{end}}</td></tr>{{end}}</table>{{end}}
{{end}}{{end}}
{{define "authz"}}{{$rep := .Report}}{{with .Record.Authorizations}}<h2>用印授权 Authorized by</h2>
<table id="authorizations">{{range .}}<tr><td>{{authorizedBy .}}</td><td>{{at .GrantedAt}}</td><td>{{.ID}}</td><td>{{with evidenceOf $rep .ID}}{{if .Verified}}<span class="evidence-ok">凭证已核验 evidence verified</span>{{else}}<span class="evidence-bad">凭证未通过核验 evidence NOT verified: {{.Detail}}</span>{{end}}{{end}}</td></tr>{{end}}</table>{{end}}{{end}}
{{define "download"}}{{template "head" "电子证照下载"}}
<h1>{{.Record.Title}}</h1>
<p class="verdict {{.Report.Verdict}}">验证结果：{{verdictText .Report.Verdict}}{{if changed .Report}}，签章后有修订 (with changes after signing){{end}}</p>
<dl><dt>发证机关</dt><dd>{{.Record.ResponsibleParty}}</dd>{{if .Record.DocumentNo}}<dt>文号</dt><dd>{{.Record.DocumentNo}}</dd>{{end}}
<dt>办件编号</dt><dd>{{.Record.CaseNo}}</dd><dt>盖章日期</dt><dd id="date">{{day .Record.Date}}</dd>
<dt>文件</dt><dd>{{.Record.FileName}}（{{.Record.Size}} 字节）</dd><dt>SM3</dt><dd style="word-break:break-all">{{.Record.SM3}}</dd></dl>
<p><a class="btn" id="download" href="/d/{{.Code}}/pdf">下载 PDF</a></p>
{{template "sigs" .Report}}
{{template "authz" .}}
<p><a href="/v/{{.Record.DocumentID}}">验证页面</a></p></body></html>{{end}}
{{define "verify"}}{{template "head" "电子印章验证"}}
<h1>电子印章验证：{{.Record.Title}}</h1>
<p class="verdict {{.Report.Verdict}}">{{verdictText .Report.Verdict}}{{if changed .Report}}，签章后有修订 (with changes after signing){{end}}</p>
<dl><dt>发证机关</dt><dd>{{.Record.ResponsibleParty}}</dd><dt>文件 SM3</dt><dd style="word-break:break-all">{{.Record.SM3}}</dd>
<dt>验证时间</dt><dd id="verified-at">{{at .Report.VerifiedAt}}</dd></dl>
{{template "sigs" .Report}}
{{template "authz" .}}</body></html>{{end}}
{{define "notfound"}}{{template "head" "未找到"}}<h1>取件码无效</h1>
<p>没有找到与此取件码对应的文件。请核对取件码（不区分大小写，可省略连字符）。</p></body></html>{{end}}
{{define "busy"}}{{template "head" "请稍后再试"}}<h1>系统繁忙</h1><p>正在验证的文件较多，请几秒后刷新。</p></body></html>{{end}}
{{define "limited"}}{{template "head" "请稍后再试"}}<h1>尝试次数过多</h1><p>请一分钟后再试。</p></body></html>{{end}}`))
})

var chinaTime = time.FixedZone("CST", 8*3600)

// zone is where pages read the time: a location and what the pages call it.
type zone struct {
	loc   *time.Location
	label string
}

// clock is the process's page zone: one deployment shows one clock.
var clock atomic.Pointer[zone]

// pageZone is the zone pages show times in: China time unless set.
func pageZone() *zone {
	if z := clock.Load(); z != nil {
		return z
	}
	return &zone{chinaTime, "北京时间"}
}

// clockText is t as pages show it: date, time and the zone's label (with
// the offset at t, for a zone other than China's).
func clockText(t time.Time) string {
	z := pageZone()
	t = t.In(z.loc)
	if z.loc == chinaTime {
		return t.Format("2006-01-02 15:04:05") + " " + z.label
	}
	return t.Format("2006-01-02 15:04:05") + " " + z.label + " (UTC" + t.Format("-07:00") + ")"
}

// SetTimeZone makes every page show times in the IANA zone name (serve's
// time_zone): "" or a zone of China's time (Asia/Shanghai, PRC, …) is
// 北京时间; another zone is labelled with its name and, beside a time, its
// UTC offset then. It applies to the whole process.
func SetTimeZone(name string) error {
	switch name {
	case "", "Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC":
		clock.Store(nil)
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return fmt.Errorf("time_zone %q: not an IANA time zone name (such as Asia/Shanghai or Asia/Urumqi)", name)
	}
	clock.Store(&zone{loc, name})
	return nil
}

type pageData struct {
	Code   string
	Record *archive.Record
	Report *seal.Report
}

func renderPage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// recordByCode resolves a retrieval code. A correct code is always
// answered, however many wrong ones came from the same address (a town's
// carrier NAT or the office's proxy is one address for many citizens): the
// code's 80 random bits are what protect a document, not the limit. Wrong
// codes are limited per client and per code prefix, and answered 429 past
// the limit. Wrong and unknown codes look the same, so nothing tells
// whether a document exists.
func (s *Server) recordByCode(w http.ResponseWriter, r *http.Request) (*archive.Record, bool) {
	code := mux.Vars(r)["code"]
	rec, err := s.Service.Documents().ByRetrievalCode(r.Context(), code)
	if err == nil {
		return rec, true
	}
	if !errors.Is(err, archive.ErrNotFound) {
		s.Log.Warn("retrieval code lookup", "err", err)
	}
	// Both buckets are spent, so a client cannot save its own by
	// spreading guesses over prefixes, nor many clients theirs by
	// sharing one prefix.
	byClient := s.codes.allow(s.clientOf(r))
	byPrefix := s.codePrefixes.allow(codePrefix(code))
	if !byClient || !byPrefix {
		limit := "code_client"
		if byClient {
			limit = "code_prefix"
		}
		s.metrics.rateLimited.WithLabelValues(limit).Inc()
		w.Header().Set("Retry-After", "60")
		renderPage(w, http.StatusTooManyRequests, "limited", nil)
		return nil, false
	}
	renderPage(w, http.StatusNotFound, "notfound", nil)
	return nil, false
}

// codePrefix is the first eight characters of a retrieval code as typed
// loosely (case and separators ignored): its unit's hint, which the codes
// of a unit share, and the first four of its random characters; "" for
// what cannot be a code.
func codePrefix(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
		case (r >= 'A' && r <= 'Z') || (r >= '2' && r <= '7'):
			b.WriteRune(r)
		default:
			return ""
		}
		if b.Len() == 8 {
			break
		}
	}
	return b.String()
}

func (s *Server) downloadPage(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.recordByCode(w, r)
	if !ok {
		return
	}
	rep, ok := s.verifyStored(w, r, rec)
	if !ok {
		return
	}
	renderPage(w, http.StatusOK, "download", pageData{Code: mux.Vars(r)["code"], Record: rec, Report: rep})
}

func (s *Server) downloadPDF(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.recordByCode(w, r); ok {
		s.sendPDF(w, r, rec)
	}
}

func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) {
	rec, err := s.Service.Documents().CommittedRecord(r.Context(), mux.Vars(r)["doc_id"])
	if err != nil {
		renderPage(w, http.StatusNotFound, "notfound", nil)
		return
	}
	if rep, ok := s.verifyStored(w, r, rec); ok {
		renderPage(w, http.StatusOK, "verify", pageData{Record: rec, Report: rep})
	}
}

// verifyStored verifies the stored PDF of a record, once per trust state
// (verifyCache), at most Limits.VerifyStored at once: past that a page
// waits Limits.BusyWait for a slot, then is answered 503.
func (s *Server) verifyStored(w http.ResponseWriter, r *http.Request, rec *archive.Record) (*seal.Report, bool) {
	version, err := s.Registry.TrustVersion(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	rep, hit, err := s.verified.get(r.Context(), rec.SM3+"|"+version, func(ctx context.Context) (*seal.Report, error) {
		if !s.stored.acquire(ctx, s.Limits.BusyWait) {
			return nil, errBusy
		}
		defer s.stored.release()
		return s.verifyArchived(ctx, rec)
	})
	s.metrics.verifyCache.WithLabelValues(string(hit)).Inc()
	if errors.Is(err, errBusy) {
		s.metrics.busy.WithLabelValues("verify_stored").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
		renderPage(w, http.StatusServiceUnavailable, "busy", nil)
		return nil, false
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return rep, true
}

// errBusy is a verification that found no free slot.
var errBusy = errors.New("every verification slot is taken")

// openArchived opens the stored bytes of a record — the version its commit
// stored — read in place (a file of the filesystem store) or spooled (an
// S3 object, whose every out-of-order read is a request; kept in memory up
// to Limits.SpoolBytes, in a temporary file past that), once they are
// checked to be the bytes the record's SM3 names: what is verified or
// served is what was committed. Memory stays bounded whatever the
// document's size. done releases them.
//
// A record that pins its PDF by SM3 alone (written since 2026-12-02) names
// the key's first version on S3 (archive.OpenPinned), which takes a
// listing of versions to find. The PDF standing at the key is that one
// unless something was put in front of it, so it is read first, and the
// first version only when its bytes are not the record's: one request per
// download and verification instead of three, and the same bytes served.
func (s *Server) openArchived(ctx context.Context, rec *archive.Record) (ra io.ReaderAt, size int64, done func(), err error) {
	key := archive.DocumentKey(rec.DocumentID)
	if rec.PDFVersion == "" && archive.Versioned(s.Store) {
		ra, size, done, err := s.openChecked(rec, func() (io.ReadCloser, archive.ObjectInfo, error) { return s.Store.Get(ctx, key) })
		if !errors.Is(err, archive.ErrAltered) {
			return ra, size, done, err
		}
	}
	return s.openChecked(rec, func() (io.ReadCloser, archive.ObjectInfo, error) {
		return archive.OpenPinned(ctx, s.Store, key, rec.PDFVersion)
	})
}

// openChecked opens what open opens as openArchived says, and checks it
// against rec: another size or SM3 is archive.ErrAltered.
func (s *Server) openChecked(rec *archive.Record, open func() (io.ReadCloser, archive.ObjectInfo, error)) (ra io.ReaderAt, size int64, done func(), err error) {
	rc, info, err := open()
	if err != nil {
		return nil, 0, nil, err
	}
	if info.Size != rec.Size {
		rc.Close()
		return nil, 0, nil, fmt.Errorf("document %s: %d bytes stored, its record names %d: %w", rec.DocumentID, info.Size, rec.Size, archive.ErrAltered)
	}
	var sum []byte
	done = func() { rc.Close() }
	if f, ok := rc.(*os.File); ok {
		h := sm3.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, info.Size)); err != nil {
			done()
			return nil, 0, nil, err
		}
		ra, size, sum = f, info.Size, h.Sum(nil)
	} else {
		sp, err := spool(io.LimitReader(rc, info.Size), s.SpoolDir, s.Limits.SpoolBytes)
		rc.Close()
		if err != nil {
			return nil, 0, nil, err
		}
		ra, size, sum, done = sp, sp.size, sp.sm3, func() { sp.Close() }
	}
	if hex.EncodeToString(sum) != rec.SM3 {
		done()
		return nil, 0, nil, fmt.Errorf("document %s: the stored bytes (SM3 %x) are not those its record names (%s): %w", rec.DocumentID, sum, rec.SM3, archive.ErrAltered)
	}
	return ra, size, done, nil
}

// verifyArchived verifies the stored bytes of a record (openArchived).
func (s *Server) verifyArchived(ctx context.Context, rec *archive.Record) (*seal.Report, error) {
	ra, size, done, err := s.openArchived(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer done()
	rep, err := s.verifier(ctx).VerifyPDF(ctx, ra, size)
	if err != nil {
		return nil, err
	}
	s.metrics.verifications.WithLabelValues(string(rep.Verdict)).Inc()
	// Who approved each use of a seal: the evidence verified as fixity
	// verifies it, so the page does not merely repeat the record.
	for _, a := range rec.Authorizations() {
		c := seal.AuthorizationCheck{ID: a.ID, Verified: true}
		if err := s.Registry.CheckEvidence(ctx, rec, a); err != nil {
			var bad *seal.EvidenceError
			if !errors.As(err, &bad) {
				// The store failing says nothing of the evidence: no
				// report, so none is cached.
				return nil, err
			}
			c.Verified, c.Detail = false, err.Error()
			s.Log.Warn("authorization evidence does not verify (run eseal archive fixity)", "document", rec.DocumentID, "authorization", a.ID, "err", err)
		}
		rep.Authorizations = append(rep.Authorizations, c)
	}
	return rep, nil
}
