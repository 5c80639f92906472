package seal

// Verifying GB/T 38540 structures given on their own, outside a PDF: an
// SESeal file (.esl, .der) or an SES_Signature file (.dat, .der) with,
// optionally, the bytes it signs — what OFD signers and seal makers hand
// over. The checks are those of docs/formats.md ("Verification order").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"eseal/seal/ses"
)

// Kinds of SignatureReport for standalone structures.
const (
	KindSeal        = "seal"
	KindSESignature = "SES_Signature"
)

// MaxStandaloneSize bounds a seal or seal-signature file: seals carry a
// picture, and 16 MiB is far beyond any seen.
const MaxStandaloneSize = 16 << 20

// StandaloneData is the data an SES_Signature signs, given with it.
type StandaloneData struct {
	R    io.ReaderAt
	Size int64
}

// VerifyStandalone verifies the DER of an SES_Signature or of an SESeal,
// telling them apart by structure (an SES_Signature parses as one; else
// the file is read as a seal). data, when not nil, is what an
// SES_Signature signs: a PDF whose /ByteRange its propertyInfo names
// (eseal's binding), or else any bytes whose SM3 is its dataHash. Without
// data the document digest is not checked and the verdict cannot be VALID.
// A file that is neither is an INVALID report; errors are for I/O and
// for data given with a seal (an *InvalidError).
func (v *Verifier) VerifyStandalone(ctx context.Context, der []byte, data *StandaloneData) (*Report, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	v = v.asOfNow(now)
	rep := &Report{Size: int64(len(der)), Signatures: []SignatureReport{}, Reasons: []string{}, RevisionEnds: []int64{}, VerifiedAt: v.asOf.UTC()}
	defer rep.summarise()
	if len(der) > MaxStandaloneSize {
		rep.Verdict = Invalid
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("%d bytes: larger than any seal or seal signature (%d)", len(der), MaxStandaloneSize))
		return rep, nil
	}
	var sr *SignatureReport
	_, sigErr := ses.ParseSignature(der)
	_, sealErr := ses.ParseSeal(der)
	switch {
	case sigErr == nil:
		var err error
		if sr, err = v.verifyStandaloneSignature(ctx, der, data); err != nil {
			return nil, err
		}
	case sealErr == nil:
		if data != nil {
			return nil, &InvalidError{"the file is a seal (SESeal), which signs no data: data goes with an SES_Signature"}
		}
		sr = v.verifyStandaloneSeal(ctx, der)
	default:
		rep.Verdict = Invalid
		rep.Reasons = append(rep.Reasons, "the file is not a PDF, nor a GB/T 38540 SES_Signature ("+sigErr.Error()+"), nor an SESeal ("+sealErr.Error()+")")
		return rep, nil
	}
	rep.Signatures = append(rep.Signatures, *sr)
	rep.Verdict = sr.Verdict
	if sr.Verdict != Valid {
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("the %s is %s", sr.Kind, sr.Verdict))
	}
	return rep, nil
}

func (v *Verifier) verifyStandaloneSignature(ctx context.Context, der []byte, data *StandaloneData) (*SignatureReport, error) {
	var sr *SignatureReport
	switch {
	case data == nil:
		sr = newSESReport()
		v.checkSES(ctx, sigCheck{sr}, der, func(c sigCheck, _ *ses.Signature) {
			c.add("document digest", Unknown, "the signed data was not given (--data FILE): the signature is not tied to any document")
		})
	case isPDF(data):
		sr = v.VerifySESignature(ctx, der, data.R, data.Size)
	default:
		var err error
		if sr, err = v.VerifySESignatureData(ctx, der, io.NewSectionReader(data.R, 0, data.Size)); err != nil {
			return nil, err
		}
	}
	sr.Kind, sr.SubFilter = KindSESignature, ""
	return sr, nil
}

// isPDF says whether data starts like a PDF within its first KiB, as
// readers accept it.
func isPDF(data *StandaloneData) bool {
	head := make([]byte, 1024)
	n, _ := data.R.ReadAt(head, 0)
	return bytes.Contains(head[:n], []byte("%PDF-"))
}

// verifyStandaloneSeal runs the seal checks on a seal with no signature:
// the time in question is the verifier's (At or now).
func (v *Verifier) verifyStandaloneSeal(ctx context.Context, der []byte) *SignatureReport {
	sr := &SignatureReport{Verdict: Valid, Reasons: []string{}, Checks: []Check{}, Kind: KindSeal, LaterChanges: []LaterChange{}}
	c := sigCheck{sr}
	sl, err := ses.ParseSeal(der)
	if err != nil {
		c.add("seal format", Fail, err.Error())
		return sr
	}
	v.checkParsedSeal(ctx, c, sl, nil, nil, v.validationTime(), false)
	return sr
}

// standaloneValidity words the validity check of a seal judged on its own.
func standaloneValidity(err error) string {
	return err.Error() + ", the time in question: no signature or timestamp proves another (give --at)"
}
