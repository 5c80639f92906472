package transfer

import (
	"fmt"
	"strings"
	"time"
)

// Property is one of DA/T 70's four properties (四性).
type Property string

// The four properties.
const (
	Authenticity Property = "真实性"
	Integrity    Property = "完整性"
	Usability    Property = "可用性"
	Security     Property = "安全性"
)

// CheckResult is the outcome of one check item, in the verifier's words
// (pass, warn, fail). Manual means the check was not run by the program (no
// scanner, no audit log): a person must do it.
type CheckResult string

// Results, from best to worst.
const (
	Pass   CheckResult = "pass"
	Manual CheckResult = "manual"
	Warn   CheckResult = "warn"
	Fail   CheckResult = "fail"
)

func (r CheckResult) rank() int {
	switch r {
	case Pass:
		return 0
	case Manual:
		return 1
	case Warn:
		return 2
	}
	return 3
}

// Identifiers of the check items, stable for programs; Items gives their
// DA/T 70 names.
const (
	CheckDigests    = "authenticity.digests"
	CheckSignatures = "authenticity.signatures"
	CheckMetadata   = "authenticity.metadata"
	CheckRefCodes   = "authenticity.refcodes"
	CheckAttributes = "authenticity.attributes"
	CheckRegister   = "authenticity.register"
	// CheckAuthorization: every seal's authorization evidence (一章一授权).
	CheckAuthorization = "authenticity.authorization"
	CheckCount         = "integrity.count"
	CheckBytes         = "integrity.bytes"
	CheckMandatory     = "integrity.metadata"
	CheckSequence      = "integrity.sequence"
	CheckContent       = "integrity.content"
	CheckPackage       = "integrity.package"
	CheckMetaAccess    = "usability.metadata"
	CheckFormat        = "usability.format"
	CheckReadable      = "usability.readable"
	CheckPackageUse    = "usability.package"
	CheckVirus         = "security.virus"
	CheckProcess       = "security.process"
	CheckStructure     = "security.structure"
)

// CheckItem is one check item of the four-property check.
type CheckItem struct {
	ID       string
	Property Property
	Name     string // DA/T 70-style item name
}

// Items lists the check items in report order.
var Items = []CheckItem{
	{CheckDigests, Authenticity, "固化信息有效性检测（数字摘要 SM3、SHA-256）"},
	{CheckSignatures, Authenticity, "固化信息有效性检测（电子签名、电子印章）"},
	{CheckMetadata, Authenticity, "元数据准确性检测（数据类型、长度、值域、与目录一致）"},
	{CheckRefCodes, Authenticity, "档号规范性检测"},
	{CheckAttributes, Authenticity, "内容数据的电子属性一致性检测（大小、格式、文件名、摘要）"},
	{CheckRegister, Authenticity, "信息包一致性检测（移交登记表签名与包摘要）"},
	{CheckAuthorization, Authenticity, "用印授权凭证检测（负责人对授权内容的签名，一章一授权）"},
	{CheckCount, Integrity, "总件数相符性检测"},
	{CheckBytes, Integrity, "总字节数相符性检测"},
	{CheckMandatory, Integrity, "元数据项完整性检测（必著项）"},
	{CheckSequence, Integrity, "连续性元数据项检测（档号件号、目录序号）"},
	{CheckContent, Integrity, "内容数据完整性检测（目录与文件夹一一对应）"},
	{CheckPackage, Integrity, "信息包完整性检测（BagIt 清单与必备文件）"},
	{CheckMetaAccess, Usability, "元数据可访问性检测"},
	{CheckFormat, Usability, "内容数据格式检测（归档格式清单）"},
	{CheckReadable, Usability, "内容数据可读性检测"},
	{CheckPackageUse, Usability, "信息包可用性检测（无加密、无非公开压缩、无嵌套压缩包）"},
	{CheckVirus, Security, "病毒感染检测"},
	{CheckProcess, Security, "过程安全性检测（审计日志记录）"},
	{CheckStructure, Security, "信息包结构安全性检测（路径、重复条目、压缩比）"},
}

func itemDef(id string) CheckItem {
	for _, it := range Items {
		if it.ID == id {
			return it
		}
	}
	panic("transfer: unknown check " + id)
}

// Row is one line of a check report: a check item's summary (DocRef empty)
// or one finding about one document or file.
type Row struct {
	Property Property    `json:"property"`
	Check    string      `json:"check"`
	Item     string      `json:"item"`
	DocRef   string      `json:"doc_ref,omitempty"`
	Result   CheckResult `json:"result"`
	Detail   string      `json:"detail"`
	Time     time.Time   `json:"time"`
}

// CheckReport is the result of a four-property check of a package.
type CheckReport struct {
	Package  string    `json:"package"`
	Digest   string    `json:"digest_sm3,omitempty"`
	Items    int       `json:"items"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Rows has, for every check item in Items order, one summary row
	// followed by its findings.
	Rows []Row `json:"rows"`
}

// OK reports whether no check failed.
func (r *CheckReport) OK() bool {
	for _, row := range r.Rows {
		if row.Result == Fail {
			return false
		}
	}
	return true
}

// Result returns the summary result of a check item ("" if absent).
func (r *CheckReport) Result(check string) CheckResult {
	for _, row := range r.Rows {
		if row.Check == check && row.DocRef == "" {
			return row.Result
		}
	}
	return ""
}

// Findings returns the rows about single documents or files of a check.
func (r *CheckReport) Findings(check string) []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Check == check && row.DocRef != "" {
			out = append(out, row)
		}
	}
	return out
}

// Counts returns how many check items ended with each result.
func (r *CheckReport) Counts() map[CheckResult]int {
	m := map[CheckResult]int{}
	for _, row := range r.Rows {
		if row.DocRef == "" {
			m[row.Result]++
		}
	}
	return m
}

// collector gathers what each check found. A check item's summary is pass
// only if it ran at least once and found nothing; one that never ran fails.
type collector struct {
	now      func() time.Time
	ran      map[string]int
	findings map[string][]Row
	notRun   map[string]string
	manual   map[string]string
}

func newCollector(now func() time.Time) *collector {
	return &collector{now: now, ran: map[string]int{}, findings: map[string][]Row{}, notRun: map[string]string{}, manual: map[string]string{}}
}

func (c *collector) ok(id string) { c.ran[id]++ }

func (c *collector) add(id string, res CheckResult, ref, detail string) {
	def := itemDef(id)
	c.ran[id]++
	if ref == "" {
		ref = "package"
	}
	c.findings[id] = append(c.findings[id], Row{Property: def.Property, Check: id, Item: def.Name, DocRef: ref, Result: res, Detail: clip(detail), Time: c.now().UTC()})
}

// manualOnly reports a whole check item as left to a person.
func (c *collector) manualOnly(id, detail string) { c.manual[id] = detail }

// skip marks every check item that has not run as not run, for reason.
func (c *collector) skipRest(reason string) {
	for _, it := range Items {
		if c.ran[it.ID] == 0 && c.notRun[it.ID] == "" && c.manual[it.ID] == "" {
			c.notRun[it.ID] = reason
		}
	}
}

func (c *collector) rows() []Row {
	var out []Row
	for _, it := range Items {
		fs := c.findings[it.ID]
		sum := Row{Property: it.Property, Check: it.ID, Item: it.Name, Time: c.now().UTC()}
		worst := Pass
		count := map[CheckResult]int{}
		for _, f := range fs {
			count[f.Result]++
			if f.Result.rank() > worst.rank() {
				worst = f.Result
			}
		}
		switch {
		case len(fs) > 0:
			sum.Result = worst
			var parts []string
			for _, r := range []CheckResult{Fail, Warn, Manual} {
				if count[r] > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", count[r], r))
				}
			}
			sum.Detail = fmt.Sprintf("%s of %d checked", strings.Join(parts, ", "), c.ran[it.ID])
			if len(fs) == 1 && (fs[0].Result == Manual || worst == Pass) {
				sum.Detail = fs[0].Detail
			}
		case c.ran[it.ID] > 0:
			sum.Result, sum.Detail = Pass, fmt.Sprintf("%d checked", c.ran[it.ID])
		case c.manual[it.ID] != "":
			sum.Result, sum.Detail = Manual, c.manual[it.ID]
		default:
			reason := c.notRun[it.ID]
			if reason == "" {
				reason = "nothing to check"
			}
			sum.Result, sum.Detail = Fail, "not run: "+reason
		}
		out = append(out, sum)
		out = append(out, fs...)
	}
	return out
}

// tally counts what Write checked while packing, for the register.
type tally struct {
	passed map[string]int
	warns  map[string][]string
}

func newTally() *tally { return &tally{passed: map[string]int{}, warns: map[string][]string{}} }

func (t *tally) pass(id string)                { t.passed[id]++ }
func (t *tally) warn(id string, detail string) { t.warns[id] = append(t.warns[id], detail) }

func (t *tally) rows(n int) []RegisterCheck {
	var out []RegisterCheck
	for _, id := range []string{CheckDigests, CheckSignatures, CheckMetadata, CheckMandatory, CheckReadable, CheckFormat, CheckPackageUse, CheckVirus, CheckProcess} {
		def := itemDef(id)
		rc := RegisterCheck{Property: string(def.Property), Check: id, Item: def.Name}
		switch {
		case len(t.warns[id]) > 0:
			rc.Result, rc.Detail = string(Warn), clip(fmt.Sprintf("%d of %d: %s", len(t.warns[id]), n, strings.Join(t.warns[id], "; ")))
		case t.passed[id] == n:
			rc.Result, rc.Detail = string(Pass), fmt.Sprintf("%d items", n)
		case id == CheckVirus:
			rc.Result, rc.Detail = string(Manual), "no malware scanner is run while packing"
		case id == CheckProcess:
			rc.Result, rc.Detail = string(Manual), "the transfer is logged by the caller; check the audit log"
		case id == CheckSignatures && t.passed[id] == 0:
			rc.Result, rc.Detail = string(Manual), "no verifier was configured while packing"
		default:
			rc.Result, rc.Detail = string(Fail), fmt.Sprintf("only %d of %d items checked", t.passed[id], n)
		}
		out = append(out, rc)
	}
	return out
}
