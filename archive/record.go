package archive

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// RetentionClass is how long a record is kept (国家档案局令第8号): permanently,
// or for a fixed term of 30 or 10 years. Tests may use a Go duration.
type RetentionClass string

// The retention classes of the archives law.
const (
	Permanent RetentionClass = "permanent" // 永久
	Years30   RetentionClass = "30y"       // 定期 30 年
	Years10   RetentionClass = "10y"       // 定期 10 年
)

// permanentHorizon is how far a permanent record's lock reaches; it is
// extended later, since COMPLIANCE retention can grow but never shrink.
const permanentHorizon = 100

// ParseRetentionClass accepts the three classes of the archives law and
// their Chinese names.
func ParseRetentionClass(s string) (RetentionClass, error) {
	switch strings.TrimSpace(s) {
	case "permanent", "永久":
		return Permanent, nil
	case "30y", "30年", "定期30年":
		return Years30, nil
	case "10y", "10年", "定期10年":
		return Years10, nil
	}
	return "", fmt.Errorf("retention %q: want permanent, 30y or 10y", s)
}

// parseScheduleClass also accepts a Go duration of at least one second, which
// only a retention schedule file can give (test set-ups, special items).
func parseScheduleClass(s string) (RetentionClass, error) {
	if c, err := ParseRetentionClass(s); err == nil {
		return c, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < time.Second {
		return "", fmt.Errorf("retention %q: want permanent, 30y, 10y or a duration of at least 1s", s)
	}
	return RetentionClass(d.String()), nil
}

// Until is the end of retention for a record made at t.
func (c RetentionClass) Until(t time.Time) time.Time {
	switch c {
	case Permanent:
		return t.AddDate(permanentHorizon, 0, 0)
	case Years30:
		return t.AddDate(30, 0, 0)
	case Years10:
		return t.AddDate(10, 0, 0)
	}
	d, err := time.ParseDuration(string(c))
	if err != nil {
		return t.AddDate(permanentHorizon, 0, 0) // unknown: keep longest
	}
	return t.Add(d)
}

// rank orders classes by length so "if in doubt, the longer" can be applied.
func (c RetentionClass) rank() time.Duration {
	t := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	return c.Until(t).Sub(t)
}

// Schedule maps item codes (事项编码) to retention classes. Items it does not
// list, and records with no item code, take its default, the longest class
// (permanent), as the law says to keep a record longer when in doubt.
type Schedule struct {
	Items map[string]RetentionClass
}

// scheduleFile is the YAML form of a Schedule:
//
//	items:
//	  "330000-XK-0001": permanent
//	  "330000-XK-0002": 30y
type scheduleFile struct {
	Items map[string]string `yaml:"items"`
}

var itemCodePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// ValidReference reports whether s is 1–64 letters, digits and the
// punctuation of Chinese document numbers (〔〕()（）-_/.#:): a case number or
// an approval's id. A loop, not a regular expression: compiling
// [\p{L}\p{N}…]{1,64} copies the Unicode letter class 64 times and took
// 12 ms at every start of the command-line tool.
func ValidReference(s string) bool {
	n := 0
	for _, r := range s {
		n++
		if n > 64 || !unicode.IsLetter(r) && !unicode.IsNumber(r) && !strings.ContainsRune("〔〕()（）-_/.#:", r) {
			return false
		}
	}
	return n > 0
}

// ValidItemCode reports whether s is an acceptable item code.
func ValidItemCode(s string) bool { return itemCodePattern().MatchString(s) }

// LoadSchedule reads a retention schedule from a YAML file.
func LoadSchedule(path string) (*Schedule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSchedule(b)
}

// ParseSchedule parses the YAML form of a retention schedule.
func ParseSchedule(b []byte) (*Schedule, error) {
	var f scheduleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("retention schedule: %w", err)
	}
	s := &Schedule{Items: map[string]RetentionClass{}}
	for code, cls := range f.Items {
		if !ValidItemCode(code) {
			return nil, fmt.Errorf("retention schedule: bad item code %q", code)
		}
		c, err := parseScheduleClass(cls)
		if err != nil {
			return nil, fmt.Errorf("retention schedule: item %s: %w", code, err)
		}
		s.Items[code] = c
	}
	return s, nil
}

// ClassFor returns the retention class of an item code: the scheduled one,
// or the default, permanent, for an unlisted item or an empty code.
func (s *Schedule) ClassFor(itemCode string) RetentionClass {
	if s != nil {
		if c, ok := s.Items[itemCode]; ok {
			return c
		}
	}
	return Permanent
}

// Longer returns the longer of two classes.
func Longer(a, b RetentionClass) RetentionClass {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Record is the archival description of one stamped document, with the core
// elements of DA/T 46-2009 and its electronic-signature elements. It is
// stored beside the PDF and locked with it.
type Record struct {
	DocumentID string `json:"document_id"`
	// DA/T 46 core: 题名, 文号, 责任者, 日期, 保管期限, 格式, 文件名, 大小, 生成应用.
	Title            string `json:"title"`
	DocumentNo       string `json:"document_no,omitempty"`
	ResponsibleParty string `json:"responsible_party"`
	// Unit is the id of the unit whose record it is (its responsible
	// party); empty in records made before units (the first unit's).
	Unit                string         `json:"unit,omitempty"`
	Date                time.Time      `json:"date"`
	Retention           RetentionClass `json:"retention"`
	RetainUntil         time.Time      `json:"retain_until"`
	Format              string         `json:"format"`
	FileName            string         `json:"file_name"`
	Size                int64          `json:"size"`
	CreatingApplication string         `json:"creating_application"`
	// Government-service case (GB/T 42727): 事项编码, 办件编号, 申请人.
	ItemCode  string `json:"item_code,omitempty"`
	CaseNo    string `json:"case_no,omitempty"`
	Applicant string `json:"applicant,omitempty"`
	// Fixity of the stored PDF and of the input it was made from.
	SM3    string `json:"sm3"`
	SHA256 string `json:"sha256"`
	// PDFVersion is the stored PDF's version id on a versioned backend
	// (S3), for records written before 2026-12-02; empty on the filesystem
	// and in later records, whose PDF is written after them: reads are
	// pinned to it, or without it to the key's first version (ReadDocument,
	// OpenPinned).
	PDFVersion string `json:"pdf_version,omitempty"`
	InputSize  int64  `json:"input_size"`
	InputSM3   string `json:"input_sm3"`
	// Revision counts eseal's stampings of this document: 1 for the first,
	// n+1 for seals added later to revision n (Previous names its document).
	Revision int    `json:"revision"`
	Previous string `json:"previous,omitempty"`
	// Signatures holds the e-signature elements of every seal in the PDF,
	// those of earlier revisions first.
	Signatures []SignatureElement `json:"signatures"`
	// Authorization is the grant the stamping consumed.
	Authorization AuthorizationElement `json:"authorization"`
	// RetrievalCodeHash is the SHA-256 of the citizen's retrieval code.
	RetrievalCodeHash string `json:"retrieval_code_hash"`
}

// SignatureElement holds DA/T 46's e-signature elements for one seal.
type SignatureElement struct {
	Rule        string     `json:"rule"` // 签名规则
	Time        time.Time  `json:"time"`
	Signer      string     `json:"signer"`
	SealID      string     `json:"seal_id"`
	SealName    string     `json:"seal_name"`
	CertSerial  string     `json:"cert_serial"`
	Algorithm   string     `json:"algorithm"`
	ByteRange   [4]int64   `json:"byte_range"`
	SignedSM3   string     `json:"signed_sm3"`
	Timestamp   *time.Time `json:"timestamp,omitempty"` // the TSA's time, when a token was added
	Page        int        `json:"page"`
	PlacementMM [2]float64 `json:"placement_mm"`
	// Document and Revision say which stamping added the seal.
	Document string `json:"document"`
	Revision int    `json:"revision"`
	// SESignatureKey names the GB/T 38540 SES_Signature over the same signed
	// bytes, when one was asked for.
	SESignatureKey string `json:"ses_signature_key,omitempty"`
	// Authorization is the grant this seal was used under.
	Authorization *AuthorizationElement `json:"authorization,omitempty"`
}

// AuthorizationElement identifies the authorization behind a stamping. Which
// use of it the stamping was is in the authorization's use marker and the
// audit log: the record is written before the commit that decides it.
type AuthorizationElement struct {
	ID        string    `json:"id"`
	GrantedBy string    `json:"granted_by"`
	GrantedAt time.Time `json:"granted_at"`
	// Method is how the grant was approved ("sm2": a responsible person's
	// SM2 signature; "api-key": an authorizer key's direct grant); PersonID
	// and PersonName name the person who approved it. Records written before
	// persons existed have none of them.
	Method     string `json:"method,omitempty"`
	PersonID   string `json:"person_id,omitempty"`
	PersonName string `json:"person_name,omitempty"`
}

// Authorizations lists the authorizations a record names: each seal's, then
// the document's, each once.
func (r *Record) Authorizations() []AuthorizationElement {
	var out []AuthorizationElement
	seen := map[string]bool{}
	for _, s := range r.Signatures {
		if s.Authorization != nil && s.Authorization.ID != "" && !seen[s.Authorization.ID] {
			seen[s.Authorization.ID] = true
			out = append(out, *s.Authorization)
		}
	}
	if r.Authorization.ID != "" && !seen[r.Authorization.ID] {
		out = append(out, r.Authorization)
	}
	return out
}

// UsedBy reports whether this record's own stamping used the authorization
// (its input is the one the grant may name), not a stamping of an earlier
// revision whose seals the record also lists.
func (r *Record) UsedBy(authzID string) bool {
	if r.Authorization.ID == authzID {
		return true
	}
	for _, s := range r.Signatures {
		if s.Authorization != nil && s.Authorization.ID == authzID && s.Document == r.DocumentID {
			return true
		}
	}
	return false
}

// Documents are kept apart by unit: the first unit's (every document of a
// store written before units) under docs/<id>/, another unit's under
// units/u-<tag>/docs/<id>/. A unit mints ids doc-<tag>-<16 letters>, so a
// document's place follows from its id alone.

// A document id is doc-<16 letters> for the first unit (and every document
// stamped before units), doc-<unit tag>-<16 letters> for another unit's
// (seal mints them).
var docIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^doc-(?:[a-z2-7]{8}-)?[a-z2-7]{16}$`) })

// ValidDocumentID reports whether s has the form of a document id.
func ValidDocumentID(s string) bool { return docIDPattern().MatchString(s) }

// UnitsPrefix holds the units and the documents of every unit but the first.
const UnitsPrefix = "units/"

// UnitTag returns the unit tag a document id carries: "" for the first
// unit's ids (doc-<16 letters>), else the 8 letters after doc-.
func UnitTag(docID string) string {
	rest, ok := strings.CutPrefix(docID, "doc-")
	if !ok || len(rest) != 8+1+16 || rest[8] != '-' {
		return ""
	}
	return rest[:8]
}

// UnitDocsPrefix is where the documents of the unit with this tag are: docs/
// for the first unit (tag ""), units/u-<tag>/docs/ for another.
func UnitDocsPrefix(tag string) string {
	if tag == "" {
		return "docs/"
	}
	return UnitsPrefix + "u-" + tag + "/docs/"
}

// DocumentPrefix is the prefix of everything kept of one document.
func DocumentPrefix(id string) string { return UnitDocsPrefix(UnitTag(id)) + id + "/" }

// DocumentKey is the key of a document's signed PDF.
func DocumentKey(id string) string { return DocumentPrefix(id) + "document.pdf" }

// RecordKey is the key of a document's record.
func RecordKey(id string) string { return DocumentPrefix(id) + "record.json" }

// AllUnits, given to DocumentIDs as the tag, lists the documents of every unit.
const AllUnits = "*"

// DocumentIDs lists the ids of the documents that have a record: of the unit
// with tag ("" the first unit), or of every unit with AllUnits. Documents
// outside their unit's prefix are not listed.
func DocumentIDs(ctx context.Context, s Store, tag string) ([]string, error) {
	var ids []string
	add := func(rest, wantTag string) {
		if id, ok := strings.CutSuffix(rest, "/record.json"); ok && !strings.Contains(id, "/") &&
			strings.HasPrefix(id, "doc-") && UnitTag(id) == wantTag {
			ids = append(ids, id)
		}
	}
	if tag != AllUnits {
		prefix := UnitDocsPrefix(tag)
		err := s.List(ctx, prefix, func(o ObjectInfo) error { add(strings.TrimPrefix(o.Key, prefix), tag); return nil })
		return ids, err
	}
	if err := s.List(ctx, "docs/", func(o ObjectInfo) error { add(strings.TrimPrefix(o.Key, "docs/"), ""); return nil }); err != nil {
		return nil, err
	}
	// units/u-<tag>/docs/<id>/record.json
	err := s.List(ctx, UnitsPrefix, func(o ObjectInfo) error {
		unit, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, UnitsPrefix), "/docs/")
		if t, isUnit := strings.CutPrefix(unit, "u-"); ok && isUnit && len(t) == 8 {
			add(rest, t)
		}
		return nil
	})
	return ids, err
}
