package seal

// The grant bytes: what a responsible person signs to approve one use of a
// seal. They are the request itself — canonical, self-describing text that a
// person can read before signing and anyone can check afterwards with the
// person's certificate alone:
//
//	eseal authorization grant v1
//	request: ar-…
//	authorization: az-…
//	seal: seal-…
//	seal_name: 测试市行政审批服务局行政审批专用章
//	case_no: 2026-0001
//	title: 食品经营许可证
//	document_sm3: <64 hex digits, or nothing>
//	max_uses: 1
//	requested_by: 某区审批系统
//	requested_at: 2026-12-01T21:00:00Z
//	expires_at: 2026-12-01T22:00:00Z
//	nonce: <26 base32 letters>
//
// Every line is "name: value" ("name:" for an empty value), in this order,
// each ended by one LF, UTF-8, no other bytes. Values hold no control
// characters, so no value can forge a line. ParseGrant accepts only bytes
// that Marshal gives back unchanged, so one approval has one encoding. The
// nonce makes two requests with the same content different, so a signature
// is never valid for a second request.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// grantMagic is the first line of the grant bytes; a new layout gets a new
// version in it.
const grantMagic = "eseal authorization grant v1"

// maxGrantBytes bounds the grant bytes and each evidence object.
const maxGrantBytes = 16 << 10

// Grant is what a responsible person approves: the fields of the grant bytes.
type Grant struct {
	RequestID       string    `json:"id"`
	AuthorizationID string    `json:"authorization_id"`
	SealID          string    `json:"seal_id"`
	SealName        string    `json:"seal_name"`
	CaseNo          string    `json:"case_no"`
	Title           string    `json:"title"`
	DocumentSM3     string    `json:"document_sm3,omitempty"`
	MaxUses         int       `json:"max_uses"`
	RequestedBy     string    `json:"requested_by"`
	RequestedAt     time.Time `json:"requested_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	Nonce           string    `json:"nonce"`
}

// GrantError says why bytes are not grant bytes.
type GrantError struct{ Reason string }

func (e *GrantError) Error() string { return "grant bytes: " + e.Reason }

func (g *Grant) fields() [][2]string {
	return [][2]string{
		{"request", g.RequestID},
		{"authorization", g.AuthorizationID},
		{"seal", g.SealID},
		{"seal_name", g.SealName},
		{"case_no", g.CaseNo},
		{"title", g.Title},
		{"document_sm3", g.DocumentSM3},
		{"max_uses", strconv.Itoa(g.MaxUses)},
		{"requested_by", g.RequestedBy},
		{"requested_at", g.RequestedAt.UTC().Format(time.RFC3339)},
		{"expires_at", g.ExpiresAt.UTC().Format(time.RFC3339)},
		{"nonce", g.Nonce},
	}
}

// Marshal returns the grant bytes.
func (g *Grant) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(grantMagic + "\n")
	for _, f := range g.fields() {
		if f[1] != "" && (!validName(f[1], 200) || strings.TrimSpace(f[1]) != f[1]) {
			return nil, &GrantError{fmt.Sprintf("%s: %q cannot stand on one line", f[0], f[1])}
		}
		b.WriteString(f[0] + ":")
		if f[1] != "" {
			b.WriteString(" " + f[1])
		}
		b.WriteByte('\n')
	}
	if b.Len() > maxGrantBytes {
		return nil, &GrantError{"too long"}
	}
	return b.Bytes(), nil
}

// ParseGrant reads grant bytes, accepting only the canonical encoding.
func ParseGrant(b []byte) (*Grant, error) {
	if len(b) > maxGrantBytes {
		return nil, &GrantError{"too long"}
	}
	text, ok := strings.CutPrefix(string(b), grantMagic+"\n")
	if !ok {
		return nil, &GrantError{"not an eseal grant (v1)"}
	}
	var g Grant
	vals := map[string]string{}
	var names []string
	for _, f := range g.fields() {
		names = append(names, f[0])
	}
	for _, name := range names {
		line, rest, ok := strings.Cut(text, "\n")
		if !ok {
			return nil, &GrantError{"missing " + name}
		}
		text = rest
		v, ok := strings.CutPrefix(line, name+":")
		if !ok {
			return nil, &GrantError{fmt.Sprintf("want %s, found %q", name, line)}
		}
		vals[name] = strings.TrimPrefix(v, " ")
	}
	if text != "" {
		return nil, &GrantError{"data after nonce"}
	}
	var err error
	g.RequestID, g.AuthorizationID, g.SealID, g.SealName = vals["request"], vals["authorization"], vals["seal"], vals["seal_name"]
	g.CaseNo, g.Title, g.DocumentSM3, g.RequestedBy, g.Nonce = vals["case_no"], vals["title"], vals["document_sm3"], vals["requested_by"], vals["nonce"]
	if g.MaxUses, err = strconv.Atoi(vals["max_uses"]); err != nil {
		return nil, &GrantError{"max_uses: " + err.Error()}
	}
	if g.RequestedAt, err = time.Parse(time.RFC3339, vals["requested_at"]); err != nil {
		return nil, &GrantError{"requested_at: " + err.Error()}
	}
	if g.ExpiresAt, err = time.Parse(time.RFC3339, vals["expires_at"]); err != nil {
		return nil, &GrantError{"expires_at: " + err.Error()}
	}
	switch {
	case !ValidRequestID(g.RequestID) || !ValidAuthorizationID(g.AuthorizationID):
		return nil, &GrantError{"request or authorization id malformed"}
	case !ValidID(g.SealID):
		return nil, &GrantError{"seal id malformed"}
	case g.MaxUses < 1 || g.MaxUses > MaxAuthorizationUses:
		return nil, &GrantError{"max_uses out of range"}
	case g.DocumentSM3 != "" && !sm3HexPattern().MatchString(g.DocumentSM3):
		return nil, &GrantError{"document_sm3 malformed"}
	case g.Nonce == "":
		return nil, &GrantError{"no nonce"}
	}
	again, err := g.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, errors.New("grant bytes: not in canonical form")
	}
	return &g, nil
}
