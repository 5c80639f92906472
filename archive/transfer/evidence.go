package transfer

// Authorization evidence in a package. Every seal on a document was used
// under an authorization (一章一授权); the package carries, in the item's
// folder, what shows who authorized it, so the receiving archive can check
// it without eseal:
//
//	data/REF/evidence/<az>/grant.bin        the exact bytes that were approved
//	data/REF/evidence/<az>/signature.der    SM2 signature over them (DER, SM3, user id 1234567812345678)
//	data/REF/evidence/<az>/certificate.pem  the certificate that checks it
//
// and the item's metadata lists each under 授权>授权凭证 with its method,
// person, seal and the SM3 of the grant bytes. For method sm2 the grant bytes
// are the text a responsible person signed and the certificate is the one
// enrolled for them; for method api-key (an authorizer key's direct grant)
// they are the grant as the service's seal maker signed it, and the
// certificate is the seal maker's: weaker evidence, since it shows the
// service granted, not a person, and Check reports it as a warning.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// Evidence methods.
const (
	MethodSM2     = "sm2"
	MethodPasskey = "passkey"
	MethodAPIKey  = "api-key"
)

// Names of the evidence files in an authorization's folder.
const (
	EvidenceGrant       = "grant.bin"
	EvidenceSignature   = "signature.der"
	EvidenceCertificate = "certificate.pem"
	// A passkey's evidence: the assertion as the browser delivered it and
	// the credential's COSE public key, beside the grant bytes.
	EvidenceAuthenticatorData = "authenticator-data.bin"
	EvidenceClientData        = "client-data.json"
	EvidenceAssertion         = "signature.bin"
	EvidenceCredential        = "credential.cose"
	// maxEvidenceBytes bounds each evidence file, as the service bounds them.
	maxEvidenceBytes = 16 << 10
)

// Evidence is the evidence of one authorization as the service keeps it.
type Evidence struct {
	Method     string
	PersonID   string
	PersonName string
	// KeyName names the authorizer key of an api-key grant.
	KeyName     string
	Grant       []byte
	Signature   []byte
	Certificate []byte // PEM; empty for a passkey
	// For MethodPasskey: the rest of the WebAuthn assertion, and the
	// credential's COSE public key (Signature is the assertion's).
	AuthenticatorData   []byte
	ClientDataJSON      []byte
	CredentialPublicKey []byte
}

// files are the evidence files of a method, with their contents in e (nil
// when only the names are wanted): the grant first, then what checks it.
func evidenceFiles(method string, e *Evidence) []struct {
	name string
	b    []byte
} {
	if e == nil {
		e = &Evidence{}
	}
	if method == MethodPasskey {
		return []struct {
			name string
			b    []byte
		}{{EvidenceGrant, e.Grant}, {EvidenceAuthenticatorData, e.AuthenticatorData}, {EvidenceClientData, e.ClientDataJSON},
			{EvidenceAssertion, e.Signature}, {EvidenceCredential, e.CredentialPublicKey}}
	}
	return []struct {
		name string
		b    []byte
	}{{EvidenceGrant, e.Grant}, {EvidenceSignature, e.Signature}, {EvidenceCertificate, e.Certificate}}
}

// VerifyPasskeyFunc checks a passkey approval offline: the client data is a
// WebAuthn assertion whose challenge is SM3 of grant, with user presence and
// verification, signed by the COSE key over authenticatorData ‖
// SHA-256(clientDataJSON).
type VerifyPasskeyFunc func(grant, authenticatorData, clientDataJSON, signature, coseKey []byte) error

// EvidenceFunc returns the evidence of an authorization (seal.Registry's
// Evidence, wired by the program): archive cannot read the service's grants
// itself.
type EvidenceFunc func(ctx context.Context, authorizationID string) (*Evidence, error)

// VerifyEvidenceFunc checks an SM2 signature (SM3, default user id) over msg
// with the public key of the one PEM certificate given. No chain is checked:
// a person's certificate is pinned at enrolment, whoever issued it.
type VerifyEvidenceFunc func(certPEM, msg, sig []byte) error

// EvidenceXML is one authorization's evidence in an item's metadata; the
// files are relative to the item's folder.
type EvidenceXML struct {
	AuthzID     string `xml:"授权标识"`
	Method      string `xml:"授权方式"`
	PersonID    string `xml:"负责人标识,omitempty"`
	PersonName  string `xml:"负责人,omitempty"`
	KeyName     string `xml:"授权密钥名称,omitempty"`
	SealID      string `xml:"印章标识"`
	GrantFile   string `xml:"授权内容文件"`
	GrantSM3    string `xml:"授权内容摘要"`
	Signature   string `xml:"签名文件"`
	Certificate string `xml:"证书文件"`
	// A passkey's authenticator data and client data; its 证书文件 is the
	// credential's COSE public key.
	AuthenticatorData string `xml:"认证器数据文件,omitempty"`
	ClientData        string `xml:"客户端数据文件,omitempty"`
	Algorithm         string `xml:"签名算法标识"`
}

const (
	evidenceAlgorithm        = "SM2-with-SM3 (1.2.156.10197.1.501), user id 1234567812345678"
	passkeyEvidenceAlgorithm = "WebAuthn assertion (COSE key), challenge = SM3 of the grant bytes"
)

// evidenceXML lists one authorization's evidence files, relative to the
// item's folder, as the metadata names them for its method.
func evidenceXML(method, dir string) EvidenceXML {
	x := EvidenceXML{GrantFile: dir + EvidenceGrant, Signature: dir + EvidenceSignature, Certificate: dir + EvidenceCertificate, Algorithm: evidenceAlgorithm}
	if method == MethodPasskey {
		x.Signature, x.Certificate, x.Algorithm = dir+EvidenceAssertion, dir+EvidenceCredential, passkeyEvidenceAlgorithm
		x.AuthenticatorData, x.ClientData = dir+EvidenceAuthenticatorData, dir+EvidenceClientData
	}
	return x
}

var authzIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^az-[a-z2-7]{16}$`) })

// sm3HexPattern matches an SM3 digest in lower-case hex.
var sm3HexPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })

// evidenceDir is an authorization's folder inside its item's folder.
func evidenceDir(authzID string) string { return "evidence/" + authzID + "/" }

// grantFacts is what the evidence check needs from grant bytes.
type grantFacts struct {
	AuthorizationID string
	SealID          string
	CaseNo          string
	DocumentSM3     string // the one document the grant is for; "" for any
}

// grantTextMagic is the first line of a person-approved grant (the
// service's grant bytes, v1).
const grantTextMagic = "eseal authorization grant v1"

// readGrant reads the grant bytes of an evidence of the given method: the
// text a person signed (sm2), or the JSON the seal maker signed (api-key).
// It judges only what the check needs; the signature covers the exact bytes
// whatever their layout.
func readGrant(method string, b []byte) (*grantFacts, error) {
	if len(b) > maxEvidenceBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxEvidenceBytes)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("not UTF-8")
	}
	var g grantFacts
	switch method {
	case MethodSM2, MethodPasskey:
		text, ok := strings.CutPrefix(string(b), grantTextMagic+"\n")
		if !ok {
			return nil, errors.New("not an eseal grant (v1)")
		}
		if !strings.HasSuffix(text, "\n") {
			return nil, errors.New("truncated: the last line is not ended")
		}
		seen := map[string]string{}
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" {
				return nil, fmt.Errorf("line %q is not name: value", clipLine(line))
			}
			if _, dup := seen[name]; dup {
				return nil, fmt.Errorf("%s twice", name)
			}
			seen[name] = strings.TrimPrefix(value, " ")
		}
		for _, need := range []string{"request", "authorization", "seal", "case_no", "nonce"} {
			if _, ok := seen[need]; !ok {
				return nil, fmt.Errorf("no %s line", need)
			}
		}
		g = grantFacts{AuthorizationID: seen["authorization"], SealID: seen["seal"], CaseNo: seen["case_no"], DocumentSM3: seen["document_sm3"]}
	case MethodAPIKey:
		var j struct {
			ID          string `json:"id"`
			SealID      string `json:"seal_id"`
			CaseNo      string `json:"case_no"`
			DocumentSM3 string `json:"document_sm3"`
		}
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("not the JSON of a grant: %v", err)
		}
		g = grantFacts{AuthorizationID: j.ID, SealID: j.SealID, CaseNo: j.CaseNo, DocumentSM3: j.DocumentSM3}
	default:
		return nil, fmt.Errorf("unknown method %q", method)
	}
	if !authzIDPattern().MatchString(g.AuthorizationID) {
		return nil, fmt.Errorf("the authorization id %q is malformed", clipLine(g.AuthorizationID))
	}
	if g.SealID == "" {
		return nil, errors.New("names no seal")
	}
	return &g, nil
}

func clipLine(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// onePEMCertificate reports whether b holds exactly one PEM certificate
// and nothing else but whitespace.
func onePEMCertificate(b []byte) error {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return errors.New("not a PEM certificate")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return errors.New("more than one PEM block")
	}
	return nil
}

// authorizationIDs lists the authorizations a record's metadata names: each
// seal's, in order, then the document's, each once.
func authorizationIDs(m *Metadata) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, s := range m.Signatures {
		add(s.AuthzID)
	}
	add(m.Authz)
	return ids
}

// evidence checks the authorization evidence of one item, offline: for each
// evidence the metadata lists, its files are there, the grant's SM3 is the
// metadata's, the grant names this authorization, one of the document's
// seals and its case, and the signature over the grant verifies with the
// certificate carried. It returns the paths of the evidence files, which
// belong to the item.
func (k *checker) evidence(docRef, ref string, m *Metadata) []string {
	var files []string
	if m == nil {
		return nil
	}
	listed := map[string]bool{}
	seals := map[string]bool{}
	for _, s := range m.Signatures {
		seals[s.SealID] = true
	}
	for i, ev := range m.Evidence {
		what := fmt.Sprintf("%s 授权凭证[%d]", docRef, i+1)
		if !authzIDPattern().MatchString(ev.AuthzID) {
			k.c.add(CheckAuthorization, Fail, what, "授权标识 malformed")
			continue
		}
		if listed[ev.AuthzID] {
			k.c.add(CheckAuthorization, Fail, what, "authorization "+ev.AuthzID+" listed twice")
			continue
		}
		listed[ev.AuthzID] = true
		dir := evidenceDir(ev.AuthzID)
		base := "data/" + ref + "/" + dir
		var names []string
		for _, f := range evidenceFiles(ev.Method, nil) {
			names = append(names, f.name)
			files = append(files, base+f.name)
		}
		want := evidenceXML(ev.Method, dir)
		if ev.GrantFile != want.GrantFile || ev.Signature != want.Signature || ev.Certificate != want.Certificate ||
			ev.AuthenticatorData != want.AuthenticatorData || ev.ClientData != want.ClientData {
			k.c.add(CheckAuthorization, Fail, what, "the evidence files must be "+dir+"{"+strings.Join(names, ",")+"}")
			continue
		}
		body := map[string][]byte{}
		missing := false
		for _, name := range names {
			e := k.files[base+name]
			switch {
			case e == nil:
				k.c.add(CheckAuthorization, Fail, base+name, docRef+": authorization "+ev.AuthzID+": evidence file missing")
				missing = true
			case e.err != nil || e.f.UncompressedSize64 > maxEvidenceBytes || len(e.body) != int(e.f.UncompressedSize64):
				k.c.add(CheckAuthorization, Fail, base+name, docRef+": authorization "+ev.AuthzID+": evidence file unreadable or larger than 16 KiB")
				missing = true
			default:
				body[name] = e.body
			}
		}
		if missing {
			continue
		}
		grantE := k.files[base+EvidenceGrant]
		fail := func(file, detail string) {
			k.c.add(CheckAuthorization, Fail, base+file, docRef+": authorization "+ev.AuthzID+": "+detail)
		}
		if !strings.EqualFold(strings.TrimSpace(ev.GrantSM3), grantE.digest.SM3) {
			fail(EvidenceGrant, "SM3 of the grant bytes differs from the metadata's 授权内容摘要")
			continue
		}
		g, err := readGrant(ev.Method, body[EvidenceGrant])
		if err != nil {
			fail(EvidenceGrant, "not grant bytes of method "+ev.Method+": "+err.Error())
			continue
		}
		switch {
		case g.AuthorizationID != ev.AuthzID:
			fail(EvidenceGrant, "the grant is for authorization "+g.AuthorizationID)
			continue
		case g.SealID != ev.SealID || !seals[g.SealID]:
			fail(EvidenceGrant, "the grant is for seal "+g.SealID+", not a seal of this document")
			continue
		case g.CaseNo != "" && g.CaseNo != m.CaseNo:
			fail(EvidenceGrant, fmt.Sprintf("the grant is for case %q, the document's is %q", g.CaseNo, m.CaseNo))
			continue
		case g.DocumentSM3 != "" && m.InputSM3 == "":
			k.c.add(CheckAuthorization, Warn, base+EvidenceGrant, docRef+": authorization "+ev.AuthzID+
				" is for the document whose SM3 is "+g.DocumentSM3+"; the metadata has no 用印前文件 to check it against")
		case g.DocumentSM3 != "" && !strings.EqualFold(g.DocumentSM3, m.InputSM3) && ev.AuthzID == m.Authz:
			fail(EvidenceGrant, "the grant is for the document whose SM3 is "+g.DocumentSM3+"; the item was sealed from "+m.InputSM3+" (用印前文件)")
			continue
		case g.DocumentSM3 != "" && !strings.EqualFold(g.DocumentSM3, m.InputSM3):
			k.c.add(CheckAuthorization, Warn, base+EvidenceGrant, docRef+": authorization "+ev.AuthzID+
				" is an earlier seal's, for the document whose SM3 is "+g.DocumentSM3+" (an earlier revision's input): not checked")
		}
		if ev.Method == MethodPasskey {
			if k.opts.VerifyPasskey == nil {
				k.c.add(CheckAuthorization, Manual, base+EvidenceAssertion, docRef+": no passkey verifier configured: check the assertion by hand")
				continue
			}
			if err := k.opts.VerifyPasskey(body[EvidenceGrant], body[EvidenceAuthenticatorData], body[EvidenceClientData],
				body[EvidenceAssertion], body[EvidenceCredential]); err != nil {
				fail(EvidenceAssertion, "the passkey assertion does not verify over the grant bytes with the credential carried: "+err.Error())
				continue
			}
			k.c.ok(CheckAuthorization)
			continue
		}
		if err := onePEMCertificate(body[EvidenceCertificate]); err != nil {
			fail(EvidenceCertificate, err.Error())
			continue
		}
		if k.opts.VerifyEvidence == nil {
			k.c.add(CheckAuthorization, Manual, base+EvidenceSignature, docRef+": no SM2 verifier configured: check the signature by hand")
			continue
		}
		if err := k.opts.VerifyEvidence(body[EvidenceCertificate], body[EvidenceGrant], body[EvidenceSignature]); err != nil {
			fail(EvidenceSignature, "the signature over the grant bytes does not verify with the certificate carried: "+err.Error())
			continue
		}
		if ev.Method == MethodAPIKey {
			k.c.add(CheckAuthorization, Warn, base+EvidenceGrant, docRef+": authorization "+ev.AuthzID+
				" is an API key's direct grant (method api-key, key "+ev.KeyName+"), signed by the seal maker, not by a responsible person")
			continue
		}
		k.c.ok(CheckAuthorization)
	}
	for _, id := range authorizationIDs(m) {
		if !listed[id] {
			k.c.add(CheckAuthorization, Warn, docRef, "the package carries no evidence of authorization "+id)
		}
	}
	return files
}
