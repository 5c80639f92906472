package seal

// GB/T 38540 SES_Signature over PDFs. There is no standard binding of an
// SES_Signature to a PDF; eseal's (docs/formats.md) is dataHash = SM3 of the
// bytes covered by /ByteRange and propertyInfo = "PDF;ByteRange=a,b,c,d;hash=SM3".
// The stamper makes one on request beside its CMS (pattern A), the verifier
// checks one given separately, one over any bytes (an OFD signature file), or
// one found in a PDF's /Contents instead of a CMS (pattern B).

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
	"eseal/pdf"
	"eseal/seal/ses"
)

// CheckSESignature is the name of the check that reports the SES_Signature's
// format.
const CheckSESignature = "SES_Signature"

// maxPropertyInfo bounds the propertyInfo ParsePDFPropertyInfo reads.
const maxPropertyInfo = 256

// PDFPropertyInfo is the propertyInfo eseal writes into an SES_Signature
// over the bytes of a PDF that br covers.
func PDFPropertyInfo(br [4]int64) string {
	return fmt.Sprintf("PDF;ByteRange=%d,%d,%d,%d;hash=SM3", br[0], br[1], br[2], br[3])
}

// PropertyInfoError says that a propertyInfo does not state a PDF byte range
// in eseal's binding.
type PropertyInfoError struct {
	PropertyInfo string
	Reason       string
}

func (e *PropertyInfoError) Error() string {
	p := e.PropertyInfo
	if len(p) > 64 {
		p = p[:64] + "…"
	}
	return fmt.Sprintf("propertyInfo %q: %s", p, e.Reason)
}

// ParsePDFPropertyInfo reads a propertyInfo written by PDFPropertyInfo: the
// word PDF, then ";"-separated key=value fields among which ByteRange (four
// non-negative decimal numbers) and hash are required. Keys and the word PDF
// match without regard to case; unknown keys are ignored, repeated ones are
// an error. The byte range is not checked against any file here.
func ParsePDFPropertyInfo(s string) (br [4]int64, hash string, err error) {
	bad := func(reason string) ([4]int64, string, error) {
		return [4]int64{}, "", &PropertyInfoError{PropertyInfo: s, Reason: reason}
	}
	if len(s) > maxPropertyInfo {
		return bad(fmt.Sprintf("longer than %d bytes", maxPropertyInfo))
	}
	fields := strings.Split(s, ";")
	if !strings.EqualFold(strings.TrimSpace(fields[0]), "PDF") {
		return bad("does not start with PDF")
	}
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return bad(fmt.Sprintf("field %q is not key=value", f))
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if seen[k] {
			return bad("repeated " + k)
		}
		seen[k] = true
		switch k {
		case "byterange":
			nums := strings.Split(val, ",")
			if len(nums) != 4 {
				return bad("ByteRange does not have four numbers")
			}
			for i, n := range nums {
				v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
				if err != nil || v < 0 || v > 1<<53 || strings.HasPrefix(strings.TrimSpace(n), "+") {
					return bad(fmt.Sprintf("ByteRange number %q", n))
				}
				br[i] = v
			}
		case "hash":
			hash = strings.TrimSpace(val)
		}
	}
	if !seen["byterange"] {
		return bad("no ByteRange")
	}
	if hash == "" {
		return bad("no hash")
	}
	return br, hash, nil
}

// pdfSESignature makes the SES_Signature of a stamping: over the SM3 digest
// of the bytes br covers, at the signing time, with the seal's SESeal, key
// and certificate, and the token timeStamp returns over its signature
// value when timeStamp is not nil.
func pdfSESignature(ss *signingSeal, at time.Time, digest []byte, br [4]int64, timeStamp func([]byte) ([]byte, error)) ([]byte, error) {
	der, err := ses.BuildSignature(ses.SignatureSpec{
		SealDER: ss.sesealDER, TimeInfo: at, DataHash: digest, PropertyInfo: PDFPropertyInfo(br), TimeStamp: timeStamp,
	}, ss.key, ss.cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("SES_Signature: %w", err)
	}
	return der, nil
}

// VerifySESignature verifies an SES_Signature given apart from the PDF r
// (size bytes) it protects, such as Signed.SESignature: the checks of
// the "Signature" verification order of docs/formats.md, with the protected bytes taken from the
// ByteRange its propertyInfo names. That range must be the /ByteRange of a
// signature field of the PDF whose gap is exactly that field's /Contents,
// so that nothing outside the hashed bytes can change the document; a
// propertyInfo that names no such range fails.
func (v *Verifier) VerifySESignature(ctx context.Context, sesDER []byte, r io.ReaderAt, size int64) *SignatureReport {
	rep := newSESReport()
	v.checkSES(ctx, sigCheck{rep}, sesDER, func(c sigCheck, sg *ses.Signature) {
		br, hash, err := ParsePDFPropertyInfo(sg.PropertyInfo)
		if err != nil {
			c.add("byte range", Fail, err.Error())
			return
		}
		c.rep.ByteRange = br
		if !strings.EqualFold(hash, "SM3") {
			c.add("document digest", Unknown, fmt.Sprintf("hash %q is not supported; eseal binds PDFs with SM3", hash))
			return
		}
		s, err := pdfSignatureWithRange(r, size, br)
		if err != nil {
			c.add("byte range", Fail, err.Error())
			return
		}
		if err := checkByteRange(s, size); err != nil {
			c.add("byte range", Fail, err.Error())
			return
		}
		if !s.CoversRevision {
			c.add("byte range", Fail, fmt.Sprintf("the signed range ends at byte %d, which is not the end of a revision", br[2]+br[3]))
			return
		}
		c.rep.Field, c.rep.Page, c.rep.Pages = s.FieldName, s.Page, s.Pages
		if len(s.Pages) > 1 {
			c.rep.Kind = "cross-page"
		}
		c.add("byte range", Pass, fmt.Sprintf("the /ByteRange of field %s, everything but its /Contents", s.FieldName))
		checkRangeDigest(c, sg, r, br)
	})
	return rep
}

// VerifySESignatureData verifies an SES_Signature whose dataHash is the SM3
// digest of data as a whole, e.g. an OFD signature file
// (/Doc_0/Signs/Sign_0/Signature.xml). Only reading data fails with an error.
func (v *Verifier) VerifySESignatureData(ctx context.Context, sesDER []byte, data io.Reader) (*SignatureReport, error) {
	h := sm3.New()
	if _, err := io.Copy(h, data); err != nil {
		return nil, err
	}
	sum := h.Sum(nil)
	rep := newSESReport()
	v.checkSES(ctx, sigCheck{rep}, sesDER, func(c sigCheck, sg *ses.Signature) {
		matchDigest(c, sg.DataHash, sum, "the protected data")
	})
	return rep, nil
}

func newSESReport() *SignatureReport {
	return &SignatureReport{Verdict: Valid, Reasons: []string{}, Checks: []Check{}, Kind: "page"}
}

// checkPDFSES verifies an SES_Signature found in the /Contents of a PDF
// signature whose /ByteRange br has been checked (pattern B). Its dataHash
// must be SM3 of the bytes br covers; a propertyInfo in eseal's binding
// must name br itself. Other propertyInfo texts are vendors' own and only
// reported.
func (v *Verifier) checkPDFSES(ctx context.Context, c sigCheck, der []byte, r io.ReaderAt, br [4]int64) {
	v.checkSES(ctx, c, der, func(c sigCheck, sg *ses.Signature) {
		if got, hash, err := ParsePDFPropertyInfo(sg.PropertyInfo); err == nil {
			if got != br {
				c.add("document digest", Fail, fmt.Sprintf("propertyInfo names ByteRange %v, the signature field signs %v", got, br))
				return
			}
			if !strings.EqualFold(hash, "SM3") {
				c.add("document digest", Unknown, fmt.Sprintf("hash %q is not supported", hash))
				return
			}
		}
		checkRangeDigest(c, sg, r, br)
	})
}

func checkRangeDigest(c sigCheck, sg *ses.Signature, r io.ReaderAt, br [4]int64) {
	sum, err := digestRange(r, br)
	if err != nil {
		c.add("document digest", Fail, err.Error())
		return
	}
	matchDigest(c, sg.DataHash, sum, "the bytes /ByteRange covers")
}

func matchDigest(c sigCheck, dataHash, sum []byte, what string) {
	if !bytes.Equal(dataHash, sum) {
		c.add("document digest", Fail, fmt.Sprintf("dataHash %x is not SM3 of %s (%x)", dataHash, what, sum))
		return
	}
	c.add("document digest", Pass, "dataHash is SM3 of "+what)
}

// checkSES runs the "Signature" verification order of docs/formats.md steps (1)–(6) on the DER of an
// SES_Signature and hands step (7), the document hash, to checkDoc. Steps
// that cannot go on after a failure (format, signature value) stop there.
func (v *Verifier) checkSES(ctx context.Context, c sigCheck, der []byte, checkDoc func(sigCheck, *ses.Signature)) {
	// (1) Format and versions (ParseSignature refuses a V1 seal in a V4
	// signature and the other way round).
	sg, err := ses.ParseSignature(der)
	if err != nil {
		c.add(CheckSESignature, Fail, err.Error())
		return
	}
	c.add(CheckSESignature, Pass, fmt.Sprintf("V%d SES_Signature with a V%d seal, propertyInfo %q", sg.Version, sg.Seal.Version, sg.PropertyInfo))

	// (2) The signer's signature over the received toSign.
	signer, err := smx509.ParseCertificate(sg.Cert)
	if err != nil {
		c.add("signature value", Fail, "the signer certificate: "+err.Error())
		return
	}
	c.rep.Signer = signer.Subject.String()
	c.rep.SignerSerial = fmt.Sprintf("%x", signer.SerialNumber)
	if err := sg.Verify(); err != nil {
		var se *ses.SignatureError
		if errors.As(err, &se) && se.Reason == ses.UnsupportedAlgorithm {
			c.add("signature value", Unknown, err.Error())
		} else {
			c.add("signature value", Fail, err.Error())
		}
		return
	}
	c.add("signature value", Pass, "SM2 signature over toSign verifies with the signer certificate")

	// (6) comes first for its time: a valid token's genTime is preferred
	// over timeInfo for steps (4) and (5).
	at := sg.TimeInfo
	if !at.IsZero() {
		t := at.UTC()
		c.rep.SigningTime = &t
	}
	proven := false
	if sg.TimeStamp != nil {
		if gen, ok := v.checkTimestampToken(c, sg.TimeStamp, sg.Value, at); ok {
			t := gen.UTC()
			c.rep.Timestamp = &t
			at, proven = gen, true
		}
	}
	if at.IsZero() {
		c.add("signing time", Unknown, "no readable timeInfo and no timestamp")
		at = time.Now()
	}

	// (3) and (4): the signer in the seal's certList, the seal at that time.
	v.checkParsedSeal(ctx, c, sg.Seal, nil, signer, at, proven)

	// (5) The signer certificate chain at that time.
	v.checkChain(c, "signer certificate", signer, nil, at, keys.UsageSign, proven)

	// (7) The protected data.
	checkDoc(c, sg)
}

// pdfSignatureWithRange finds the signature field of the PDF whose
// /ByteRange is br.
func pdfSignatureWithRange(r io.ReaderAt, size int64, br [4]int64) (*pdf.Signature, error) {
	doc, err := pdf.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("the file cannot be read as a PDF: %w", err)
	}
	sigs, err := doc.Signatures()
	if err != nil {
		return nil, fmt.Errorf("the signature fields cannot be read: %w", err)
	}
	for i := range sigs {
		if sigs[i].ByteRange == br {
			return &sigs[i], nil
		}
	}
	return nil, fmt.Errorf("no signature field of the PDF has /ByteRange %v", br)
}

// sesSniffedSubFilters are the SubFilters under which an SES_Signature has
// been found in /Contents instead of what the name promises: the CMS ones
// (vendors keep them so that readers show a signature at all) and a vendor
// name. For these the content decides.
var sesSniffedSubFilters = map[string]bool{
	pdf.SubFilterPKCS7Detached: true,
	pdf.SubFilterCAdESDetached: true,
	"adbe.x509.seal":           true,
}

// sesContents says whether the signature's /Contents is to be verified as an
// SES_Signature, and returns its DER without the zero padding. A SubFilter
// naming GB/T 38540 (pdf.SubFilterGBT38540, or any with "38540") declares
// one; under the SubFilters of sesSniffedSubFilters the structure decides:
// a CMS ContentInfo starts with its content type (an OBJECT IDENTIFIER), an
// SES_Signature with toSign (a SEQUENCE).
func sesContents(s *pdf.Signature) ([]byte, bool) {
	declared := strings.Contains(s.SubFilter, "38540")
	if !declared && !sesSniffedSubFilters[s.SubFilter] {
		return nil, false
	}
	der, looks := sniffSES(s.Contents)
	if declared && der == nil {
		der = s.Contents // the parser says what is wrong with it
	}
	return der, declared || looks
}

// sniffSES returns the first DER element of contents when only zero padding
// follows it (else nil), and whether it has the shape of an SES_Signature.
func sniffSES(contents []byte) ([]byte, bool) {
	var top asn1.RawValue
	rest, err := asn1.Unmarshal(contents, &top)
	if err != nil {
		return nil, false
	}
	for _, b := range rest {
		if b != 0 {
			return nil, false
		}
	}
	if top.Class != asn1.ClassUniversal || top.Tag != asn1.TagSequence || !top.IsCompound {
		return top.FullBytes, false
	}
	var first asn1.RawValue
	if _, err := asn1.Unmarshal(top.Bytes, &first); err != nil {
		return top.FullBytes, false
	}
	return top.FullBytes, first.Class == asn1.ClassUniversal && first.Tag == asn1.TagSequence && first.IsCompound
}
