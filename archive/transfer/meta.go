package transfer

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"eseal/archive"
)

// contentFormats is the archival list of content formats: extension → the
// value of 格式信息. PDF is what eseal stamps; OFD (GB/T 33190) is the other
// fixed-layout format archives accept.
var contentFormats = map[string]string{".pdf": "PDF", ".ofd": "OFD"}

const (
	dateLayout     = "20060102" // DA/T 46 日期: CCYYMMDD
	sm3Algorithm   = "SM3"
	shaAlgorithm   = "SHA-256"
	metadataStd    = "DA/T 46-2009"
	maxTitleRunes  = 200
	maxNameRunes   = 200
	maxShortRunes  = 64
	maxPartyRunes  = 128
	maxSignatures  = 64
	maxDetailRunes = 500
)

var documentIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// buildMetadata describes one item with DA/T 46 element names.
func buildMetadata(it Item, rule Rule, unit string, size int64, sm3Hex, shaHex string) Metadata {
	r := it.Record
	loc := rule.loc()
	m := Metadata{
		Standard: metadataStd, Level: "件", Unit: unit,
		DocumentID: r.DocumentID, RefCode: it.Ref.String(), Fonds: it.Ref.Fonds,
		Year: strconv.Itoa(it.Ref.Year), Retention: RetentionNames[r.Retention],
		ItemNo: fmt.Sprintf("%0*d", rule.width(), it.Ref.Seq),
		Title:  r.Title, DocumentNo: r.DocumentNo, Responsible: r.ResponsibleParty,
		Date: r.Date.In(loc).Format(dateLayout), Pieces: "1",
		Format: "PDF", FileName: it.Ref.String() + ".pdf", Size: strconv.FormatInt(size, 10),
		Creator: r.CreatingApplication, OriginalName: r.FileName,
		Digests:  []DigestValue{{sm3Algorithm, sm3Hex}, {shaAlgorithm, shaHex}},
		ItemCode: r.ItemCode, CaseNo: r.CaseNo, Applicant: r.Applicant,
		Authz: r.Authorization.ID, AuthzBy: r.Authorization.GrantedBy,
		RetainUntil: r.RetainUntil.In(loc).Format(dateLayout),
	}
	if r.InputSM3 != "" && r.InputSize > 0 {
		m.InputSize, m.InputSM3 = strconv.FormatInt(r.InputSize, 10), r.InputSM3
	}
	if !r.Authorization.GrantedAt.IsZero() {
		m.AuthzAt = r.Authorization.GrantedAt.UTC().Format(time.RFC3339)
	}
	for _, s := range r.Signatures {
		m.Signatures = append(m.Signatures, SignatureXML{
			Rule: s.Rule, Time: s.Time.UTC().Format(time.RFC3339), Signer: s.Signer,
			SealID: s.SealID, SealName: s.SealName, CertRef: s.CertSerial, Algorithm: s.Algorithm,
			ByteRange: fmt.Sprintf("%d %d %d %d", s.ByteRange[0], s.ByteRange[1], s.ByteRange[2], s.ByteRange[3]),
			SignedSM3: s.SignedSM3,
		})
		if s.Authorization != nil {
			m.Signatures[len(m.Signatures)-1].AuthzID = s.Authorization.ID
		}
	}
	return m
}

func (m *Metadata) digest(alg string) string {
	for _, d := range m.Digests {
		if d.Algorithm == alg {
			return strings.TrimSpace(d.Value)
		}
	}
	return ""
}

// missingMetadata lists the mandatory elements (DA/T 46 必著项 and what the
// checks need) that are absent or empty.
func missingMetadata(m *Metadata) []string {
	var miss []string
	need := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			miss = append(miss, name)
		}
	}
	need("聚合层次", m.Level)
	need("立档单位名称", m.Unit)
	need("电子文件号", m.DocumentID)
	need("档号", m.RefCode)
	need("全宗号", m.Fonds)
	need("年度", m.Year)
	need("保管期限", m.Retention)
	need("件号", m.ItemNo)
	need("题名", m.Title)
	need("责任者", m.Responsible)
	need("日期", m.Date)
	need("格式信息", m.Format)
	need("计算机文件名", m.FileName)
	need("计算机文件大小", m.Size)
	need("数字摘要(SM3)", m.digest(sm3Algorithm))
	need("数字摘要(SHA-256)", m.digest(shaAlgorithm))
	need("保管期限截止日期", m.RetainUntil)
	if len(m.Signatures) == 0 {
		miss = append(miss, "电子签名")
	}
	for i, s := range m.Signatures {
		need(fmt.Sprintf("电子签名[%d]>签名时间", i+1), s.Time)
		need(fmt.Sprintf("电子签名[%d]>签名人", i+1), s.Signer)
		need(fmt.Sprintf("电子签名[%d]>签名算法标识", i+1), s.Algorithm)
	}
	return miss
}

// malformedMetadata lists values present but not well formed: types,
// lengths, value domains, control characters. Missing values are
// missingMetadata's business.
func malformedMetadata(m *Metadata) []string {
	var bad []string
	text := func(name, v string, max int) {
		if v == "" {
			return
		}
		switch {
		case !utf8.ValidString(v):
			bad = append(bad, name+": not UTF-8")
		case utf8.RuneCountInString(v) > max:
			bad = append(bad, fmt.Sprintf("%s: longer than %d characters", name, max))
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			bad = append(bad, name+": contains control characters")
		}
	}
	if m.Standard != metadataStd {
		bad = append(bad, fmt.Sprintf("标准: %q, want %q", m.Standard, metadataStd))
	}
	if m.Level != "" && m.Level != "件" {
		bad = append(bad, "聚合层次: want 件")
	}
	text("立档单位名称", m.Unit, maxPartyRunes)
	text("题名", m.Title, maxTitleRunes)
	text("文件编号", m.DocumentNo, maxShortRunes)
	text("责任者", m.Responsible, maxPartyRunes)
	text("文档创建程序", m.Creator, maxShortRunes)
	text("原始文件名", m.OriginalName, maxNameRunes)
	text("办件编号", m.CaseNo, maxShortRunes)
	text("申请人", m.Applicant, maxNameRunes)
	if m.DocumentID != "" && !documentIDPattern().MatchString(m.DocumentID) {
		bad = append(bad, "电子文件号: 1–64 letters, digits and ._-")
	}
	if m.ItemCode != "" && !archive.ValidItemCode(m.ItemCode) {
		bad = append(bad, "事项编码: 1–64 letters, digits and ._-")
	}
	if m.Year != "" && (len(m.Year) != 4 || !digits(m.Year)) {
		bad = append(bad, "年度: want four digits")
	}
	if m.Retention != "" && !validRetentionName(m.Retention) {
		bad = append(bad, fmt.Sprintf("保管期限: %q is not 永久, 定期30年 or 定期10年", m.Retention))
	}
	if m.ItemNo != "" && (!digits(m.ItemNo) || len(m.ItemNo) > 9) {
		bad = append(bad, "件号: want 1–9 digits")
	}
	for name, v := range map[string]string{"日期": m.Date, "保管期限截止日期": m.RetainUntil} {
		if _, err := time.Parse(dateLayout, v); v != "" && (err != nil || len(v) != 8) {
			bad = append(bad, name+": want CCYYMMDD")
		}
	}
	if m.Pieces != "" && m.Pieces != "1" {
		bad = append(bad, "件数: want 1")
	}
	if m.Format != "" && !validFormat(m.Format) {
		bad = append(bad, fmt.Sprintf("格式信息: %q is not on the archival list", m.Format))
	}
	if m.FileName != "" && !safePath(m.FileName) || strings.Contains(m.FileName, "/") {
		bad = append(bad, "计算机文件名: want a plain file name")
	}
	if n, err := strconv.ParseInt(m.Size, 10, 64); m.Size != "" && (err != nil || n <= 0 || !digits(m.Size)) {
		bad = append(bad, "计算机文件大小: want a positive number of bytes")
	}
	for _, d := range m.Digests {
		if d.Algorithm != sm3Algorithm && d.Algorithm != shaAlgorithm {
			bad = append(bad, fmt.Sprintf("数字摘要: unknown algorithm %q", d.Algorithm))
		} else if !isHex(strings.TrimSpace(d.Value), 64) {
			bad = append(bad, "数字摘要("+d.Algorithm+"): want 64 hex digits")
		}
	}
	if len(m.Signatures) > maxSignatures {
		bad = append(bad, "电子签名: too many")
	}
	for i, s := range m.Signatures {
		if _, err := time.Parse(time.RFC3339, s.Time); s.Time != "" && err != nil {
			bad = append(bad, fmt.Sprintf("电子签名[%d]>签名时间: want RFC 3339", i+1))
		}
		if s.SignedSM3 != "" && !isHex(s.SignedSM3, 64) {
			bad = append(bad, fmt.Sprintf("电子签名[%d]>签名摘要: want 64 hex digits", i+1))
		}
		text(fmt.Sprintf("电子签名[%d]>签名人", i+1), s.Signer, maxPartyRunes)
		text(fmt.Sprintf("电子签名[%d]>印章名称", i+1), s.SealName, maxPartyRunes)
	}
	if _, err := time.Parse(time.RFC3339, m.AuthzAt); m.AuthzAt != "" && err != nil {
		bad = append(bad, "授权时间: want RFC 3339")
	}
	return bad
}

func validRetentionName(s string) bool {
	for _, n := range RetentionNames {
		if n == s {
			return true
		}
	}
	return false
}

func validFormat(s string) bool {
	for _, f := range contentFormats {
		if f == s {
			return true
		}
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// retentionCode maps a 保管期限 value to its code under the rule.
func (r Rule) retentionCode(name string) (string, bool) {
	for c, n := range RetentionNames {
		if n == name {
			code, ok := r.codes()[c]
			return code, ok
		}
	}
	return "", false
}

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxDetailRunes {
		return s
	}
	return string([]rune(s)[:maxDetailRunes]) + "…"
}
