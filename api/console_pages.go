package api

// The archivist console's pages: search, a record (metadata, seals with
// their verification, who authorized each use, retention and hold, its
// audit trail), download, legal hold, the disposal-due list. Templates are
// html/template, cloned from the public pages so the seal and authorization
// sections are the same; every time is China time, labelled.

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/index"
	"eseal/archive/lifecycle"
	"eseal/seal"
)

var consoleTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(template.Must(passkeyPages().Clone()).Funcs(template.FuncMap{
		"actionText": actionText,
		// details lists an audit entry's details as "key: value", sorted.
		"details": func(d map[string]string) []string {
			out := make([]string, 0, len(d))
			for k, v := range d {
				out = append(out, k+": "+v)
			}
			sort.Strings(out)
			return out
		},
		"retentionText": retentionText,
		"retentionClasses": func() []archive.RetentionClass {
			return []archive.RetentionClass{archive.Permanent, archive.Years30, archive.Years10}
		},
		"methodText": func(m string) string {
			switch m {
			case string(seal.MethodPasskey):
				return "通行密钥 passkey"
			case string(seal.MethodSM2):
				return "个人 SM2 证书签名"
			case "api-key", "":
				return "接口授权 API key"
			}
			return m
		},
	}).Parse(`{{define "chead"}}<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>{{.Title}} · 档案利用</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;line-height:1.5;color:#222;background:#f6f6f4}
header{background:#8a1512;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.3em 1.2em;align-items:center}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;font-size:.9em}
header form{display:inline}header button{background:none;border:1px solid #fff;color:#fff;border-radius:.3em;padding:.1em .6em}
main{max-width:64em;margin:0 auto;padding:1em}
h1{font-size:1.3em;margin-top:.2em}h2{font-size:1.1em;margin-top:1.5em}
.card{background:#fff;border:1px solid #ddd;border-radius:.4em;padding:1em;margin:1em 0}
form.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(12em,1fr));gap:.6em 1em}
label{display:flex;flex-direction:column;font-size:.9em;color:#555}
input,select,textarea{font:inherit;padding:.4em;border:1px solid #bbb;border-radius:.3em;color:#222;background:#fff}
button,.btn{font:inherit;background:#c8161d;color:#fff;border:0;border-radius:.3em;padding:.5em 1.2em;cursor:pointer;text-decoration:none;display:inline-block}
button.quiet{background:#666}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9em;background:#fff}
th{text-align:left;color:#555;font-weight:normal;border-bottom:2px solid #ddd;padding:.3em .4em}
td{border-top:1px solid #e4e4e4;padding:.3em .4em;vertical-align:top}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2em 1em}dt{color:#666}dd{margin:0;word-break:break-all}
.verdict{font-weight:bold;padding:.4em;border-radius:.3em}
.VALID{background:#e3f5e1;color:#14591b}.INVALID{background:#fde2e1;color:#8a1512}.INDETERMINATE{background:#fff3cd;color:#6b5200}
.seal{width:6em;height:6em}.problem{background:#fde2e1;color:#8a1512;padding:.6em;border-radius:.3em}
.held{background:#fff3cd;color:#6b5200;padding:.3em .6em;border-radius:.3em;font-weight:bold}
.bar{height:1em;background:#ddd;border-radius:.5em;overflow:hidden}.bar span{display:block;height:100%;background:#c8161d}
.muted{color:#777;font-size:.9em}
@media (max-width:40em){main{padding:.5em}dl{grid-template-columns:1fr}dt{margin-top:.4em}}
</style></head><body>
{{if .Who}}<header><a href="/console/"><b>档案利用</b></a><a href="/console/">检索</a><a href="/console/transfers">移交</a><a href="/console/disposal">到期鉴定</a><a href="/console/passkey">通行密钥</a>
<span class="who">{{.Who}}（{{.Unit}}）<form method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="{{.CSRF}}"> <button id="sign-out">退出</button></form></span></header>{{end}}
<main>{{end}}
{{define "cfoot"}}<p class="muted">时间均为{{zoneLabel}}。</p></main></body></html>{{end}}

{{define "error"}}{{template "chead" .}}<h1>{{.Data.Title}}</h1><p class="problem" id="problem">{{.Data.Text}}</p>
<p><a href="/console/">返回检索</a></p>{{template "cfoot" .}}{{end}}

{{define "sign-in"}}{{template "chead" .}}<h1>档案利用 · 登录</h1>
<div class="card"><form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="{{.CSRF}}">
{{with .Data.Problem}}<p class="problem" id="problem">{{.}}</p>{{end}}
<label>档案员 API 密钥 Archivist key<input type="password" name="key" id="key" autocomplete="off" required></label>
<p><button id="sign-in">登录</button></p></form>
{{if .Data.Options}}<p><button id="passkey" class="quiet" type="button">用通行密钥登录 Sign in with a passkey</button></p><p id="result"></p>
<script nonce="{{.Data.Nonce}}">
{{template "passkey-js"}}
const opts = {{.Data.Options}};
document.getElementById('passkey').addEventListener('click', async () => {
  try {
    const j = await post('/console/sign-in/passkey', await assertion(opts), {'X-Csrf-Token': {{$.CSRF}}});
    location.href = j.location;
  } catch (e) { show('未登录：' + e.message, false); }
});
</script>{{end}}
<p class="muted">只有本单位的档案员密钥（或为它登记的通行密钥）可以登录。每次查阅和下载都记入审计日志（利用登记）。</p></div>{{template "cfoot" .}}{{end}}

{{define "passkey"}}{{template "chead" .}}<h1>通行密钥 Passkey</h1>{{with .Data}}
<div class="card">{{if .Registered}}<p id="registered">此密钥已登记通行密钥（{{at .Registered.Created}}），可在登录页用它登录。</p>
{{else if .Problem}}<p class="problem" id="problem">{{.Problem}}</p>
{{else}}<p>为当前档案员密钥登记一个通行密钥（指纹、面容或锁屏密码），以后可在登录页用它登录。吊销此密钥，通行密钥随之失效。</p>
<p><button id="register" type="button">登记通行密钥 Register</button></p><p id="result"></p>
<script nonce="{{.Nonce}}">
{{template "passkey-js"}}
const opts = {{.Options}};
document.getElementById('register').addEventListener('click', async () => {
  try {
    await post('/console/passkey', await registration(opts), {'X-Csrf-Token': {{$.CSRF}}});
    document.getElementById('register').remove();
    show('已登记 Registered', true);
  } catch (e) { show('未登记：' + e.message, false); }
});
</script>{{end}}</div>{{end}}{{template "cfoot" .}}{{end}}

{{define "search"}}{{template "chead" .}}<h1>检索档案</h1>
{{with .Data}}<div class="card"><form class="grid" method="get" action="/console/" id="search">
<label>关键词（题名、申请人、办件编号、文号）<input name="q" value="{{.Form.Q}}"></label>
<label>办件编号<input name="case_no" value="{{.Form.CaseNo}}"></label>
<label>申请人<input name="applicant" value="{{.Form.Applicant}}"></label>
<label>事项编码<input name="item_code" value="{{.Form.ItemCode}}"></label>
<label>保管期限<select name="retention"><option value="">全部</option>
{{range $c := retentionClasses}}<option value="{{$c}}"{{if eq (print $c) $.Data.Form.Retention}} selected{{end}}>{{retentionText $c}}</option>{{end}}</select></label>
<label>日期自<input type="date" name="from" value="{{.Form.From}}"></label>
<label>日期至<input type="date" name="to" value="{{.Form.To}}"></label>
<label>&nbsp;<button id="search-button">检索</button></label></form></div>
{{with .Problem}}<p class="problem" id="problem">{{.}}</p>{{end}}
{{if .Searched}}<div class="scroll"><table id="results"><tr><th>日期</th><th>题名</th><th>办件编号</th><th>申请人</th><th>事项编码</th><th>保管期限</th></tr>
{{range .Records}}<tr><td>{{day .Date}}</td><td><a class="record" href="/console/records/{{.DocumentID}}">{{.Title}}</a></td><td>{{.CaseNo}}</td><td>{{.Applicant}}</td><td>{{.ItemCode}}</td><td>{{retentionText .Retention}}</td></tr>
{{else}}<tr><td colspan="6">没有符合条件的档案。</td></tr>{{end}}</table></div>
<p>{{if .Cursor}}<a href="{{.First}}">第一页</a> {{end}}{{if .Next}}<a id="next" class="btn" href="{{.Next}}">下一页</a>{{end}}</p>{{end}}{{end}}
{{template "cfoot" .}}{{end}}

{{define "purpose"}}{{template "chead" .}}{{with .Data}}<h1>{{.Record.Title}}</h1>
<div class="card"><p>查阅档案须说明利用目的，查阅将记入审计日志（利用登记）。</p>
<form method="post" action="/console/records/{{.Record.DocumentID}}/purpose"><input type="hidden" name="csrf" value="{{$.CSRF}}">
{{with .Problem}}<p class="problem" id="problem">{{.}}</p>{{end}}
<label>利用目的 Purpose<input name="purpose" id="purpose" maxlength="200" required placeholder="例：答复申请人关于许可证的查询"></label>
<p><button id="state-purpose">查阅</button></p></form></div>{{end}}{{template "cfoot" .}}{{end}}

{{define "record"}}{{template "chead" .}}{{with .Data}}<h1 id="title">{{.Record.Title}}</h1>
<p class="muted">利用目的：<span id="purpose-shown">{{.Purpose}}</span></p>
<div class="card"><dl>
<dt>档案编号</dt><dd id="doc-id">{{.Record.DocumentID}}</dd>
{{if .Record.DocumentNo}}<dt>文号</dt><dd>{{.Record.DocumentNo}}</dd>{{end}}
<dt>责任者</dt><dd>{{.Record.ResponsibleParty}}</dd>
<dt>日期</dt><dd>{{day .Record.Date}}</dd>
<dt>办件编号</dt><dd id="case-no">{{.Record.CaseNo}}</dd><dt>申请人</dt><dd>{{.Record.Applicant}}</dd><dt>事项编码</dt><dd>{{.Record.ItemCode}}</dd>
<dt>保管期限</dt><dd>{{retentionText .Record.Retention}}，保管至 {{at .Record.RetainUntil}}</dd>
<dt>法律保全</dt><dd id="hold">{{if .Held}}<span class="held">保全中 ON HOLD</span>{{else}}无 none{{end}}</dd>
<dt>文件</dt><dd>{{.Record.FileName}}（{{.Record.Size}} 字节，{{.Record.Format}}）</dd>
<dt>SM3</dt><dd>{{.Record.SM3}}</dd><dt>生成应用</dt><dd>{{.Record.CreatingApplication}}</dd>
{{if .Record.Previous}}<dt>前一版本</dt><dd><a href="/console/records/{{.Record.Previous}}">{{.Record.Previous}}</a>（第 {{.Record.Revision}} 次盖章）</dd>{{end}}
</dl></div>

<div class="card"><h2 style="margin-top:0">下载 Download</h2>
<form method="post" action="/console/records/{{.Record.DocumentID}}/pdf"><input type="hidden" name="csrf" value="{{$.CSRF}}">
<label>利用目的 Purpose<input name="purpose" id="download-purpose" maxlength="200" required value="{{.Purpose}}"></label>
<p><button id="download">下载 PDF</button></p></form></div>

<div class="card"><h2 style="margin-top:0">法律保全 Legal hold</h2>
<form method="post" action="/console/records/{{.Record.DocumentID}}/hold"><input type="hidden" name="csrf" value="{{$.CSRF}}">
<input type="hidden" name="on" value="{{if .Held}}0{{else}}1{{end}}">
<label>理由 Reason<input name="reason" id="hold-reason" maxlength="512" required></label>
<p><button id="hold-button">{{if .Held}}解除保全 Release hold{{else}}设置保全 Place hold{{end}}</button></p></form>
{{with .Holds}}<div class="scroll"><table id="holds"><tr><th>时间</th><th>操作</th><th>人员</th><th>理由</th></tr>
{{range .}}<tr><td>{{at .Time}}</td><td>{{if .On}}设置{{else}}解除{{end}}</td><td>{{.By}}</td><td>{{.Reason}}</td></tr>{{end}}</table></div>{{end}}</div>

<h2>印章与验证 Seals</h2>
<p class="verdict {{.Report.Verdict}}" id="verdict">{{verdictText .Report.Verdict}}{{if changed .Report}}，签章后有修订{{end}}</p>
{{template "sigs" .Report}}
<h2>用印授权 Who authorized each use</h2>
<div class="scroll"><table id="authorizations"><tr><th>授权人</th><th>授权时间</th><th>凭据</th><th>授权编号</th></tr>
{{range .Record.Authorizations}}<tr><td>{{if .PersonName}}{{.PersonName}}{{else}}{{.GrantedBy}}{{end}}</td><td>{{at .GrantedAt}}</td><td>{{methodText .Method}}</td><td>{{.ID}}</td></tr>{{end}}</table></div>

<h2>审计记录 Audit trail</h2>
{{if .TrailDoubts}}<div class="verdict INDETERMINATE" id="trail-doubts">审计记录可能被改动，请运行 eseal archive audit verify。The audit log may have been altered:{{range .TrailDoubts}}<br>{{.}}{{end}}</div>{{end}}
<div class="scroll"><table id="trail"><tr><th>时间</th><th>事项</th><th>人员</th><th>详情</th></tr>
{{range .Trail}}<tr class="{{.Action}}"><td>{{at .Time}}</td><td>{{actionText .Action}}</td><td>{{.Actor}}</td><td>{{range details .Details}}{{.}}<br>{{end}}</td></tr>{{end}}</table></div>
{{end}}{{template "cfoot" .}}{{end}}

{{define "transfers"}}{{template "chead" .}}<h1>移交 Transfers</h1>
{{with .Data}}<div class="card"><h2 style="margin-top:0">新建移交包</h2>
<p class="muted">按条件选出本单位已归档的档案，生成 DA/T 93 / BagIt 移交包（含登记表、目录和四性检测结果）。</p>
{{with .Problem}}<p class="problem" id="problem">{{.}}</p>{{end}}
<form class="grid" method="post" action="/console/transfers" id="transfer-form"><input type="hidden" name="csrf" value="{{$.CSRF}}">
<label>年度<input name="year" id="transfer-year" inputmode="numeric" value="{{.Form.Year}}" placeholder="全部"></label>
<label>保管期限<select name="retention"><option value="">全部</option>{{range $c := retentionClasses}}<option value="{{$c}}"{{if eq (print $c) $.Data.Form.Retention}} selected{{end}}>{{retentionText $c}}</option>{{end}}</select></label>
<label>事项编码<input name="item_code" value="{{.Form.ItemCode}}"></label>
<label>办件编号<input name="case_no" id="transfer-case-no" value="{{.Form.CaseNo}}"></label>
<label>&nbsp;<button id="create-transfer">生成移交包</button></label></form></div>
<h2>本服务器上的移交任务</h2>
<div class="scroll"><table id="jobs"><tr><th>开始</th><th>条件</th><th>人员</th><th>状态</th></tr>
{{range .Jobs}}<tr><td>{{at .Started}}</td><td>{{.Filter}}</td><td>{{.By}}</td><td><a href="/console/transfers/{{.ID}}">{{.State}} {{.Done}}/{{.Total}}</a></td></tr>
{{else}}<tr><td colspan="4">暂无。</td></tr>{{end}}</table></div>{{end}}{{template "cfoot" .}}{{end}}

{{define "transfer"}}{{template "chead" .}}{{with .Data.Job}}<h1>移交任务 {{.ID}}</h1>
<div class="card"><dl><dt>条件</dt><dd>{{.Filter}}</dd><dt>人员</dt><dd>{{.By}}</dd><dt>开始</dt><dd>{{at .Started}}</dd>
<dt>进度</dt><dd><div class="bar"><span style="width:{{.Percent}}%"></span></div><span id="progress">{{.Done}} / {{.Total}}</span></dd>
<dt>状态</dt><dd id="state" class="{{.State}}">{{if eq .State "done"}}已完成 done{{else if eq .State "failed"}}失败 failed{{else}}生成中 running{{end}}</dd>
{{with .Problem}}<dt>问题</dt><dd class="problem">{{.}}</dd>{{end}}
{{with .Package}}<dt>移交包</dt><dd id="package-id">{{.ID}}</dd><dt>条目</dt><dd id="package-items">{{.Items}}</dd><dt>SM3</dt><dd>{{.Digest}}</dd><dt>档号</dt><dd>{{.First}} — {{.Last}}</dd>{{end}}</dl>
{{if eq .State "done"}}<p><a class="btn" id="download-package" href="/console/transfers/{{.ID}}/package">下载移交包</a></p>{{end}}</div>
{{with .Package}}<div class="scroll"><table id="checks"><tr><th>检测</th><th>结果</th><th>说明</th></tr>{{range .Checks}}<tr><td>{{.Item}}</td><td>{{.Result}}</td><td>{{.Detail}}</td></tr>{{end}}</table></div>{{end}}
{{end}}<p><a href="/console/transfers">全部移交任务</a></p>{{template "cfoot" .}}{{end}}

{{define "disposal"}}{{template "chead" .}}<h1>保管期满待鉴定 Due for disposal</h1>
<p class="muted">保管期限已满且未处于法律保全的档案。销毁须经鉴定审批并有两名监销人（eseal archive dispose）。</p>
<div class="scroll"><table id="due"><tr><th>日期</th><th>题名</th><th>办件编号</th><th>保管期限</th><th>保管至</th></tr>
{{range .Data.Records}}<tr><td>{{day .Date}}</td><td><a class="record" href="/console/records/{{.DocumentID}}">{{.Title}}</a></td><td>{{.CaseNo}}</td><td>{{retentionText .Retention}}</td><td>{{at .RetainUntil}}</td></tr>
{{else}}<tr><td colspan="5">没有到期的档案。</td></tr>{{end}}</table></div>
{{with .Data.Next}}<p><a class="btn" id="next" href="{{.}}">下一页</a></p>{{end}}{{template "cfoot" .}}{{end}}
`))
})

// consoleView is what every console template gets.
type consoleView struct {
	Title, Who, Unit, CSRF string
	// Refresh, when set, reloads the page after that many seconds (a
	// transfer in progress).
	Refresh int
	Data    any
	// nonce, when set, is the nonce of the page's one script (passkeys).
	nonce string
}

// consoleMessage is the data of the error page.
type consoleMessage struct{ Title, Text string }

// consolePage renders a console template; cr is nil on pages outside a
// session.
func (s *Server) consolePage(w http.ResponseWriter, status int, name string, cr *consoleRequest, data any) {
	v := consoleView{Title: consoleTitles[name], Data: data}
	if m, ok := data.(consoleMessage); ok {
		v.Title = m.Title
	}
	if cr != nil {
		v.CSRF = cr.csrf
		if cr.key != nil {
			v.Who, v.Unit = cr.key.Name, cr.unitName
		}
	}
	switch d := data.(type) {
	case *consoleTransferView:
		if d.Job != nil && d.Job.State == transferRunning {
			v.Refresh = 1
		}
	case *consoleSignInView:
		if d.Options != nil {
			v.nonce = d.Nonce
		}
	case *consolePasskeyView:
		if d.Options != nil {
			v.nonce = d.Nonce
		}
	}
	var buf bytes.Buffer
	if err := consoleTemplates().ExecuteTemplate(&buf, name, v); err != nil {
		s.Log.Error("rendering a console page", "page", name, "err", err)
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	csp := "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
	if v.nonce != "" {
		csp += "; connect-src 'self'; script-src 'nonce-" + v.nonce + "'"
	}
	w.Header().Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var consoleTitles = map[string]string{
	"sign-in": "登录", "search": "检索", "purpose": "利用目的", "record": "档案",
	"disposal": "到期鉴定", "transfers": "移交", "transfer": "移交进度", "passkey": "通行密钥",
}

// consoleFail answers a console request that failed with an error page:
// the problem's text for what the request did wrong, a generic one (and a
// log line) for what the server did.
func (s *Server) consoleFail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	text := p.Detail
	if p.Status >= 500 {
		s.Log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		text = "处理失败，错误已记入服务器日志。"
	}
	s.consolePage(w, p.Status, "error", nil, consoleMessage{"出错了", text})
}

// consoleRecordOf reads the committed record the route names, refused when
// it belongs to another unit than the session's key.
func (s *Server) consoleRecordOf(w http.ResponseWriter, r *http.Request, cr *consoleRequest) (*archive.Record, bool) {
	id := mux.Vars(r)["doc_id"]
	notFound := func() (*archive.Record, bool) {
		s.consolePage(w, http.StatusNotFound, "error", cr, consoleMessage{"未找到", "没有编号为 " + id + " 的档案。"})
		return nil, false
	}
	if !archive.ValidDocumentID(id) {
		return notFound()
	}
	u, err := s.Registry.DocumentUnit(r.Context(), id)
	var unf *seal.UnitNotFoundError
	switch {
	case errors.As(err, &unf):
		return notFound()
	case err != nil:
		s.consoleFail(w, r, err)
		return nil, false
	case u.ID != cr.key.Unit:
		s.consolePage(w, http.StatusForbidden, "error", cr, consoleMessage{"无权查阅", "档案 " + id + " 属于其他单位（" + u.ID + "），本单位的档案员不能查阅。"})
		return nil, false
	}
	rec, err := s.Service.Documents().CommittedRecord(r.Context(), id)
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return notFound()
	case err != nil:
		s.consoleFail(w, r, err)
		return nil, false
	}
	return rec, true
}

type consolePurposeView struct {
	Record  *archive.Record
	Problem string
}

type consoleRecordView struct {
	Record  *archive.Record
	Report  *seal.Report
	Purpose string
	Held    bool
	Holds   []lifecycle.HoldEvent
	Trail   []audit.Entry
	// TrailDoubts say why entries of the trail may not be what was logged
	// (index.Trail).
	TrailDoubts []string
}

// consoleRecord shows a record once a purpose is stated for it in this
// session (asking for one otherwise); every showing is logged (利用登记).
func (s *Server) consoleRecord(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	rec, ok := s.consoleRecordOf(w, r, cr)
	if !ok {
		return
	}
	purpose := s.consoleSessions.purpose(cr.id, rec.DocumentID)
	if purpose == "" {
		s.consolePage(w, http.StatusOK, "purpose", cr, consolePurposeView{Record: rec})
		return
	}
	ctx := r.Context()
	rep, ok := s.verifyStored(w, r, rec)
	if !ok {
		return
	}
	if err := s.logUse(ctx, audit.RecordViewed, rec.DocumentID, cr.key, purpose, "console"); err != nil {
		s.consoleFail(w, r, err)
		return
	}
	v := consoleRecordView{Record: rec, Report: rep, Purpose: purpose}
	info, err := s.Store.Head(ctx, archive.DocumentKey(rec.DocumentID))
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	v.Held = info.LegalHold
	if v.Holds, err = s.holdEvents(r, rec.DocumentID); err != nil {
		s.consoleFail(w, r, err)
		return
	}
	if v.Trail, v.TrailDoubts, err = s.documentTrail(ctx, rec.DocumentID); err != nil {
		s.consoleFail(w, r, err)
		return
	}
	s.consolePage(w, http.StatusOK, "record", cr, v)
}

// holdEvents reads the hold events kept beside a document, oldest first.
func (s *Server) holdEvents(r *http.Request, docID string) ([]lifecycle.HoldEvent, error) {
	var keys []string
	prefix := archive.DocumentPrefix(docID) + "holds/"
	if err := s.Store.List(r.Context(), prefix, func(o archive.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		return nil, err
	}
	slices.Sort(keys)
	out := make([]lifecycle.HoldEvent, 0, len(keys))
	for _, k := range keys {
		b, _, err := archive.GetBytes(r.Context(), s.Store, k)
		if err != nil {
			return nil, err
		}
		var ev lifecycle.HoldEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// consolePurpose takes the purpose stated for a record and shows it.
func (s *Server) consolePurpose(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	rec, ok := s.consoleRecordOf(w, r, cr)
	if !ok {
		return
	}
	purpose, ok := cleanPurpose(r.PostForm.Get("purpose"))
	if !ok {
		s.consolePage(w, http.StatusUnprocessableEntity, "purpose", cr, consolePurposeView{Record: rec, Problem: "请说明利用目的（1 至 200 字）。"})
		return
	}
	s.consoleSessions.setPurpose(cr.id, rec.DocumentID, purpose)
	http.Redirect(w, r, "/console/records/"+rec.DocumentID, http.StatusSeeOther)
}

// consolePDF sends a record's PDF, pinned to what its commit stored, with
// the purpose stated in the form logged (利用登记).
func (s *Server) consolePDF(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	rec, ok := s.consoleRecordOf(w, r, cr)
	if !ok {
		return
	}
	purpose, ok := cleanPurpose(r.PostForm.Get("purpose"))
	if !ok {
		s.consolePage(w, http.StatusUnprocessableEntity, "error", cr, consoleMessage{"请说明利用目的", "下载档案须说明利用目的（1 至 200 字）。"})
		return
	}
	if err := s.logUse(r.Context(), audit.RecordDownloaded, rec.DocumentID, cr.key, purpose, "console"); err != nil {
		s.consoleFail(w, r, err)
		return
	}
	s.sendPDF(w, r, rec)
}

// consoleHold places or releases a legal hold, with its reason.
func (s *Server) consoleHold(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	rec, ok := s.consoleRecordOf(w, r, cr)
	if !ok {
		return
	}
	on := r.PostForm.Get("on") == "1"
	if _, err := s.Service.Documents().SetLegalHold(r.Context(), rec.DocumentID, on, r.PostForm.Get("reason"), cr.key.Name); err != nil {
		var ie *seal.InputError
		if errors.As(err, &ie) {
			s.consolePage(w, http.StatusUnprocessableEntity, "error", cr, consoleMessage{"未能设置保全", "法律保全须写明理由（1 至 512 字）。"})
			return
		}
		s.consoleFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/records/"+rec.DocumentID, http.StatusSeeOther)
}

// consoleDisposal lists the unit's records whose retention has ended and
// that are not on legal hold: from the search index when the server has
// one (a page of at most index.MaxLimit, with a link to the next), else by
// reading every record (Service.DueForDisposal).
func (s *Server) consoleDisposal(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	ctx := r.Context()
	unit, err := s.Registry.Unit(ctx, cr.key.Unit)
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	var v consoleDisposalView
	if s.Index != nil {
		if err := s.Index.CatchUp(ctx); err != nil {
			s.Log.Warn("search index: catching up before the disposal list", "err", err)
		}
		page, err := s.Index.Search(ctx, index.Query{DueBy: s.now(), Units: []string{unit.Tag()}, Limit: index.MaxLimit,
			Cursor: r.URL.Query().Get("cursor")})
		if err != nil {
			s.consoleFail(w, r, err)
			return
		}
		v.Records = page.Records
		if page.NextCursor != "" {
			v.Next = "/console/disposal?" + url.Values{"cursor": {page.NextCursor}}.Encode()
		}
		s.consolePage(w, http.StatusOK, "disposal", cr, v)
		return
	}
	due, err := s.Service.Documents().DueForDisposal(ctx)
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	for _, rec := range due {
		if archive.UnitTag(rec.DocumentID) == unit.Tag() {
			v.Records = append(v.Records, rec)
		}
	}
	s.consolePage(w, http.StatusOK, "disposal", cr, v)
}

type consoleDisposalView struct {
	Records []*archive.Record
	Next    string
}

// actionText names an audit action for the trail, in Chinese with the
// action's own name.
func actionText(a audit.Action) string {
	names := map[audit.Action]string{
		audit.DocumentStamped: "盖章归档", audit.LegalHoldSet: "设置法律保全", audit.LegalHoldCleared: "解除法律保全",
		audit.RecordTransferred: "移交", audit.RecordDisposed: "销毁", audit.RecordViewed: "查阅（利用）",
		audit.RecordDownloaded: "下载（利用）",
	}
	if n, ok := names[a]; ok {
		return n + " " + string(a)
	}
	return string(a)
}

// retentionText names a retention class in Chinese.
func retentionText(c archive.RetentionClass) string {
	switch c {
	case archive.Permanent:
		return "永久"
	case archive.Years30:
		return "定期 30 年"
	case archive.Years10:
		return "定期 10 年"
	}
	return strings.TrimSpace(string(c))
}
