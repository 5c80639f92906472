package ses

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Object identifiers used by seals and seal signatures.
var (
	// OIDSM2WithSM3 is SM2 signature with SM3 (GM/T 0006), the algorithm
	// eseal writes.
	OIDSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	// OIDSM2Sign is the SM2-1 signature identifier, accepted on input.
	OIDSM2Sign = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	// OIDSM2 is the SM2 curve identifier, which some writers use as the
	// signature algorithm; accepted on input.
	OIDSM2 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
)

// Certificate list types of SES_ESPropertyInfo.certListType.
const (
	// CertListCerts means certList holds the signers' certificates (DER).
	CertListCerts = 1
	// CertListDigests means certList holds digests of the signers' certificates.
	CertListDigests = 2
)

// Seal is a parsed electronic seal: a GB/T 38540 SESeal (version 4, or 5
// with an optional timestamp) or a GM/T 0031 SESeal (V1).
type Seal struct {
	// Version is 1 for the GM/T 0031 layout, else the header version (4 or 5).
	Version int
	// HeaderVersion is the version number written in the header as is; for
	// V1 seals writers put 1, 2 or 3 there.
	HeaderVersion int
	// Raw is the whole DER of the seal as received.
	Raw []byte

	// ID is the header identifier, always "ES".
	ID string
	// Vid identifies the vendor of the seal software.
	Vid string
	// ESID is the unique seal code.
	ESID string

	// Type is the business-defined seal type.
	Type int
	// Name is the seal's name.
	Name string
	// CertListType is CertListCerts or CertListDigests (always CertListCerts
	// for V1, which has no such field).
	CertListType int
	// CertList holds the certificates allowed to sign with this seal when
	// CertListType is CertListCerts.
	CertList [][]byte
	// CertDigests holds the digests of the certificates allowed to sign with
	// this seal when CertListType is CertListDigests.
	CertDigests []CertDigest
	// CreateDate, ValidStart and ValidEnd are the seal's dates.
	CreateDate, ValidStart, ValidEnd time.Time

	// Picture is the seal image.
	Picture Picture
	// Extensions are the seal's extDatas, in order.
	Extensions []Extension

	// MakerCert is the seal maker's certificate (DER).
	MakerCert []byte
	// SignAlg is the maker signature algorithm.
	SignAlg asn1.ObjectIdentifier
	// Signature is the maker signature value as found in the BIT STRING.
	Signature []byte
	// SignedBytes are the bytes the maker signature covers: the received
	// DER of eSealInfo (V4/V5), or SEQUENCE{sealInfo, cert, signatureAlgorithm}
	// assembled from the received element bytes (V1).
	SignedBytes []byte
	// TimeStamp is the V5 timestamp (content of the BIT STRING), if any.
	TimeStamp []byte
}

// CertDigest is one entry of a digest certificate list.
type CertDigest struct {
	// Type names the digest algorithm, e.g. "SM3", "SHA1", "SHA256".
	Type string
	// Value is the digest of the certificate's DER.
	Value []byte
}

// Picture is the seal image (SES_ESPictrueInfo).
type Picture struct {
	// Type is the image format: "PNG", "GIF", "JPG", "SVG", "OFD" …
	Type string
	// Data is the image file.
	Data []byte
	// WidthMM and HeightMM are the printed size in millimetres.
	WidthMM, HeightMM int
}

// Extension is one ExtData of a seal or signature.
type Extension struct {
	// ID identifies the extension.
	ID asn1.ObjectIdentifier
	// Critical marks an extension a verifier must understand.
	Critical bool
	// Value is the content of extnValue.
	Value []byte
}

// ParseSeal parses a seal in DER. It detects the layout from the
// structure: a top-level SEQUENCE of 2 elements is GM/T 0031 (V1), of 4 or
// 5 is GB/T 38540 (header version 4 or 5). It does not check signatures.
func ParseSeal(der []byte) (*Seal, error) {
	_, top, err := topSequence(der, "SESeal")
	if err != nil {
		return nil, err
	}
	s := &Seal{Raw: der}
	switch len(top) {
	case 2:
		err = s.parseV1(top)
	case 4, 5:
		err = s.parseV4(top)
	default:
		err = malformed("SESeal", "%d elements, want 2 (V1) or 4–5 (V4/V5)", len(top))
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Seal) parseV4(top []asn1.RawValue) error {
	if err := s.parseSealInfo(top[0], false); err != nil {
		return prefixed("eSealInfo", err)
	}
	if s.HeaderVersion != 4 && s.HeaderVersion != 5 {
		return &FormatError{Reason: UnsupportedVersion, Field: "eSealInfo.header.version", Detail: itoa(s.HeaderVersion) + " in a V4 layout"}
	}
	s.Version = s.HeaderVersion
	s.SignedBytes = top[0].FullBytes
	var err error
	if s.MakerCert, err = octets(top[1], "cert"); err != nil {
		return err
	}
	if s.SignAlg, err = oid(top[2], "signAlgID"); err != nil {
		return err
	}
	if s.Signature, err = bits(top[3], "signedValue"); err != nil {
		return err
	}
	if len(top) == 5 {
		if s.TimeStamp, err = timeStampValue(top[4], "timeStamp"); err != nil {
			return err
		}
	}
	return nil
}

// parseV1 reads SESeal ::= SEQUENCE { sealInfo, signInfo SEQUENCE { cert,
// signatureAlgorithm, signData } }. The maker signs the DER of
// SEQUENCE { sealInfo, cert, signatureAlgorithm }.
func (s *Seal) parseV1(top []asn1.RawValue) error {
	if err := s.parseSealInfo(top[0], true); err != nil {
		return prefixed("sealInfo", err)
	}
	if s.HeaderVersion < 1 || s.HeaderVersion > 3 {
		return &FormatError{Reason: UnsupportedVersion, Field: "sealInfo.header.version", Detail: itoa(s.HeaderVersion) + " in a V1 layout"}
	}
	s.Version = 1
	si, err := sequence(top[1], "signInfo")
	if err != nil {
		return err
	}
	if len(si) != 3 {
		return malformed("signInfo", "%d elements, want 3", len(si))
	}
	if s.MakerCert, err = octets(si[0], "signInfo.cert"); err != nil {
		return err
	}
	if s.SignAlg, err = oid(si[1], "signInfo.signatureAlgorithm"); err != nil {
		return err
	}
	if s.Signature, err = bits(si[2], "signInfo.signData"); err != nil {
		return err
	}
	s.SignedBytes = derSequence(top[0].FullBytes, si[0].FullBytes, si[1].FullBytes)
	return nil
}

// derSequence wraps already-encoded elements in a SEQUENCE header.
func derSequence(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := []byte{0x30}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func (s *Seal) parseSealInfo(v asn1.RawValue, v1 bool) error {
	el, err := sequence(v, "")
	if err != nil {
		return err
	}
	if len(el) != 4 && len(el) != 5 {
		return malformed("", "%d elements, want 4 or 5", len(el))
	}
	if err := s.parseHeader(el[0]); err != nil {
		return err
	}
	if s.ESID, err = str(el[1], "esID"); err != nil {
		return err
	}
	if err := s.parseProperty(el[2]); err != nil {
		return err
	}
	if s.Picture, err = parsePicture(el[3]); err != nil {
		return err
	}
	if len(el) == 5 {
		if s.Extensions, err = parseExtensions(el[4], "extDatas"); err != nil {
			return err
		}
	}
	return nil
}

func (s *Seal) parseHeader(v asn1.RawValue) error {
	el, err := sequence(v, "header")
	if err != nil {
		return err
	}
	if len(el) != 3 {
		return malformed("header", "%d elements, want 3", len(el))
	}
	if s.ID, err = str(el[0], "header.ID"); err != nil {
		return err
	}
	if s.ID != "ES" {
		return &FormatError{Reason: BadHeaderID, Field: "header.ID", Detail: truncate(s.ID)}
	}
	if s.HeaderVersion, err = integer(el[1], "header.version"); err != nil {
		return err
	}
	s.Vid, err = str(el[2], "header.Vid")
	return err
}

// parseProperty reads SES_ESPropertyInfo: 7 elements in V4 (with
// certListType), 6 in V1 (certificates only). The count decides, not the
// header version, because V1 writers vary.
func (s *Seal) parseProperty(v asn1.RawValue) error {
	const f = "property"
	el, err := sequence(v, f)
	if err != nil {
		return err
	}
	if len(el) != 6 && len(el) != 7 {
		return malformed(f, "%d elements, want 6 (V1) or 7 (V4)", len(el))
	}
	if s.Type, err = integer(el[0], f+".type"); err != nil {
		return err
	}
	if s.Name, err = str(el[1], f+".name"); err != nil {
		return err
	}
	s.CertListType = CertListCerts
	if len(el) == 7 {
		if s.CertListType, err = integer(el[2], f+".certListType"); err != nil {
			return err
		}
		el = append(el[:2:2], el[3:]...)
	}
	list, err := sequence(el[2], f+".certList")
	if err != nil {
		return err
	}
	for i, c := range list {
		fi := f + ".certList[" + itoa(i) + "]"
		switch s.CertListType {
		case CertListCerts:
			b, err := octets(c, fi)
			if err != nil {
				return err
			}
			s.CertList = append(s.CertList, b)
		case CertListDigests:
			d, err := sequence(c, fi)
			if err != nil {
				return err
			}
			if len(d) != 2 {
				return malformed(fi, "%d elements, want 2", len(d))
			}
			var cd CertDigest
			if cd.Type, err = str(d[0], fi+".type"); err != nil {
				return err
			}
			if cd.Value, err = octets(d[1], fi+".value"); err != nil {
				return err
			}
			s.CertDigests = append(s.CertDigests, cd)
		default:
			return malformed(f+".certListType", "unknown type %d", s.CertListType)
		}
	}
	if s.CreateDate, err = timeValue(el[3], f+".createDate"); err != nil {
		return err
	}
	if s.ValidStart, err = timeValue(el[4], f+".validStart"); err != nil {
		return err
	}
	s.ValidEnd, err = timeValue(el[5], f+".validEnd")
	return err
}

func parsePicture(v asn1.RawValue) (Picture, error) {
	const f = "picture"
	var p Picture
	el, err := sequence(v, f)
	if err != nil {
		return p, err
	}
	if len(el) != 4 {
		return p, malformed(f, "%d elements, want 4", len(el))
	}
	if p.Type, err = str(el[0], f+".type"); err != nil {
		return p, err
	}
	if p.Data, err = octets(el[1], f+".data"); err != nil {
		return p, err
	}
	if p.WidthMM, err = integer(el[2], f+".width"); err != nil {
		return p, err
	}
	p.HeightMM, err = integer(el[3], f+".height")
	return p, err
}

// parseExtensions reads ExtensionDatas, untagged or wrapped in [0] EXPLICIT.
func parseExtensions(v asn1.RawValue, f string) ([]Extension, error) {
	if v.Class == asn1.ClassContextSpecific {
		inner, err := explicitInner(v, 0, f)
		if err != nil {
			return nil, err
		}
		v = inner
	}
	el, err := sequence(v, f)
	if err != nil {
		return nil, err
	}
	var out []Extension
	for i, e := range el {
		fi := f + "[" + itoa(i) + "]"
		d, err := sequence(e, fi)
		if err != nil {
			return nil, err
		}
		if len(d) != 2 && len(d) != 3 {
			return nil, malformed(fi, "%d elements, want 2 or 3", len(d))
		}
		var x Extension
		if x.ID, err = oid(d[0], fi+".extnID"); err != nil {
			return nil, err
		}
		if len(d) == 3 {
			if x.Critical, err = boolean(d[1], fi+".critical"); err != nil {
				return nil, err
			}
		}
		if x.Value, err = octets(d[len(d)-1], fi+".extnValue"); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// timeStampValue reads an optional timestamp, [0] EXPLICIT or untagged,
// as BIT STRING (the standard) or OCTET STRING.
func timeStampValue(v asn1.RawValue, f string) ([]byte, error) {
	if v.Class == asn1.ClassContextSpecific {
		inner, err := explicitInner(v, 0, f)
		if err != nil {
			return nil, err
		}
		v = inner
	}
	return bits(v, f)
}

// VerifyMakerSignature checks the seal maker's SM2 signature over
// SignedBytes with the public key of MakerCert. It does not check the
// maker certificate's chain, validity or revocation.
func (s *Seal) VerifyMakerSignature() error {
	return verifySM2(s.MakerCert, s.SignAlg, s.SignedBytes, s.Signature)
}

// ValidAt reports, as a *ValidityError, whether t falls outside
// [ValidStart, ValidEnd]; both ends are inclusive.
func (s *Seal) ValidAt(t time.Time) error {
	switch {
	case t.Before(s.ValidStart):
		return &ValidityError{Reason: NotYetValid, At: t, Start: s.ValidStart, End: s.ValidEnd}
	case t.After(s.ValidEnd):
		return &ValidityError{Reason: Expired, At: t, Start: s.ValidStart, End: s.ValidEnd}
	}
	return nil
}

// AllowsSigner reports whether the seal's certificate list names the
// certificate certDER: byte-equal for a certificate list, equal digest for
// a digest list (digest types SM3, SHA1, SHA256, SHA384, SHA512, in any
// case, with or without a hyphen). Unknown digest types never match.
func (s *Seal) AllowsSigner(certDER []byte) bool {
	if len(certDER) == 0 {
		return false
	}
	switch s.CertListType {
	case CertListCerts:
		for _, c := range s.CertList {
			if bytes.Equal(c, certDER) {
				return true
			}
		}
	case CertListDigests:
		for _, d := range s.CertDigests {
			if sum := digest(d.Type, certDER); sum != nil && bytes.Equal(sum, d.Value) {
				return true
			}
		}
	}
	return false
}

func digest(name string, data []byte) []byte {
	switch strings.ToUpper(strings.NewReplacer("-", "", "_", "", " ", "").Replace(name)) {
	case "SM3", "1.2.156.10197.1.401":
		h := sm3.Sum(data)
		return h[:]
	case "SHA1", "1.3.14.3.2.26":
		h := sha1.Sum(data)
		return h[:]
	case "SHA256", "2.16.840.1.101.3.4.2.1":
		h := sha256.Sum256(data)
		return h[:]
	case "SHA384", "2.16.840.1.101.3.4.2.2":
		h := sha512.Sum384(data)
		return h[:]
	case "SHA512", "2.16.840.1.101.3.4.2.3":
		h := sha512.Sum512(data)
		return h[:]
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// truncate shortens s for error details.
func truncate(s string) string {
	if len(s) > 32 {
		return strconv.Quote(s[:32]) + "…"
	}
	return strconv.Quote(s)
}
