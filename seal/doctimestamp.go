package seal

// Document timestamps (ISO 32000-2 §12.8.5, ETSI EN 319 142-1's B-LTA): a
// signature dictionary /Type /DocTimeStamp /SubFilter /ETSI.RFC3161 whose
// /Contents is an RFC 3161 token over the bytes /ByteRange covers — the
// whole file up to it. It proves those bytes existed at the token's time;
// it names no signer and carries no seal.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
)

// KindDocTimestamp is SignatureReport.Kind of a document timestamp.
const KindDocTimestamp = "document timestamp"

// CheckDocTimestamp is the name of the check that reports a document
// timestamp's token.
const CheckDocTimestamp = "document timestamp"

// isDocTimestamp says whether a signature field holds a document timestamp.
func isDocTimestamp(s *pdf.Signature) bool {
	return s.Type == "DocTimeStamp" || s.SubFilter == pdf.SubFilterRFC3161
}

// checkDocTimestamp verifies a document timestamp whose /ByteRange br has
// been checked: the token's structure, its signature and ESS
// signing-certificate attribute, its imprint against the hash (of the
// token's algorithm) of the bytes br covers, and the TSA certificate's
// chain at the token's time.
func (v *Verifier) checkDocTimestamp(c sigCheck, s *pdf.Signature, r io.ReaderAt, br [4]int64) {
	c.rep.Kind = KindDocTimestamp
	if s.Type != "DocTimeStamp" || s.SubFilter != pdf.SubFilterRFC3161 {
		c.add(CheckDocTimestamp, Fail, fmt.Sprintf("a document timestamp needs /Type /DocTimeStamp and /SubFilter /%s, not /Type /%s /SubFilter /%s",
			pdf.SubFilterRFC3161, s.Type, s.SubFilter))
		return
	}
	sd, err := cms.Parse(s.Contents)
	if err != nil {
		c.add(CheckDocTimestamp, Fail, "the token: "+err.Error())
		return
	}
	tok, err := tsa.ParseToken(sd.Raw)
	if err != nil {
		c.add(CheckDocTimestamp, Fail, err.Error())
		return
	}
	if tok.Cert != nil {
		c.rep.Signer = tok.Cert.Subject.String()
		c.rep.SignerSerial = fmt.Sprintf("%x", tok.Cert.SerialNumber)
	}
	h, hashName, err := tok.ImprintHash()
	if err != nil {
		c.add(CheckDocTimestamp, Unknown, err.Error())
		return
	}
	for _, seg := range [][2]int64{{br[0], br[1]}, {br[2], br[3]}} {
		if _, err := io.Copy(h, io.NewSectionReader(r, seg[0], seg[1])); err != nil {
			c.add("document digest", Fail, err.Error())
			return
		}
	}
	if err := tok.VerifyData(h.Sum(nil)); err != nil {
		var te *tsa.Error
		switch {
		case errors.As(err, &te) && te.Reason == tsa.Unsupported:
			c.add(CheckDocTimestamp, Unknown, err.Error())
		case errors.As(err, &te) && te.Reason == tsa.ImprintMismatch:
			c.add("document digest", Fail, fmt.Sprintf("the token's imprint is not the %s of the bytes /ByteRange covers", hashName))
		default:
			c.add(CheckDocTimestamp, Fail, err.Error())
		}
		return
	}
	gen := tok.GenTime.UTC()
	c.rep.SigningTime, c.rep.Timestamp = &gen, &gen
	c.add("document digest", Pass, fmt.Sprintf("the token's imprint is the %s of the bytes /ByteRange covers", hashName))
	if v.Trust == nil {
		c.add(CheckDocTimestamp, Unknown, "no trusted roots configured for the TSA")
		return
	}
	if _, err := v.verifyChain(tok.Cert, tok.Certificates, tok.GenTime, keys.UsageTimestamp); err != nil {
		var ce *keys.CertificateError
		if errors.As(err, &ce) && ce.Reason == keys.ReasonUnknownAuthority {
			c.add(CheckDocTimestamp, Unknown, "TSA certificate: "+err.Error())
		} else {
			c.add(CheckDocTimestamp, Fail, "TSA certificate: "+err.Error())
		}
		return
	}
	c.add(CheckDocTimestamp, Pass, fmt.Sprintf("RFC 3161 token from %s at %s over the document up to it", tok.Cert.Subject.CommonName, gen.Format("2006-01-02T15:04:05Z")))
}

// docTimestampSize is the /Contents room for a document timestamp's token:
// the TSA certificate, its chain and the TSTInfo fit with margin.
const docTimestampSize = 8192

// AddDocTimestamp returns one incremental update for the PDF in (size
// bytes) adding a document timestamp: src stamps the SM3 digest of every
// byte before the token. Made after a /DSS (AddLTV) it is what ETSI EN
// 319 142-1 calls B-LTA; made again before the last token's TSA
// certificate expires, it renews the proof. Earlier signatures stay
// valid: a new signature field is an allowed change.
func AddDocTimestamp(ctx context.Context, src TimestampSource, in io.ReaderAt, size int64, now time.Time) ([]byte, error) {
	if src == nil {
		return nil, &InvalidError{"a document timestamp needs a time-stamping authority"}
	}
	doc, err := pdf.Open(in, size)
	if err != nil {
		return nil, err
	}
	upd, err := doc.PrepareDocTimestamp(pdf.DocTimestampRequest{Time: now, ContentsSize: docTimestampSize})
	if err != nil {
		return nil, err
	}
	h := sm3.New()
	if err := upd.Digest(h); err != nil {
		return nil, err
	}
	token, err := src.Timestamp(ctx, h.Sum(nil))
	if err != nil {
		return nil, &TimestampError{Err: err}
	}
	if _, err := tsa.ParseToken(token); err != nil {
		return nil, &TimestampError{Err: err}
	}
	if err := upd.SetContents(token); err != nil {
		return nil, err
	}
	return upd.Bytes(), nil
}

// AddArchiveTimestamp returns the update AddLTV makes followed by a
// document timestamp from src over the result (AddDocTimestamp): PAdES
// B-LTA for a signature with a signature timestamp.
func AddArchiveTimestamp(ctx context.Context, reg *Registry, src TimestampSource, in io.ReaderAt, size int64) ([]byte, error) {
	dss, err := AddLTV(ctx, reg, in, size)
	if err != nil {
		return nil, err
	}
	ts, err := AddDocTimestamp(ctx, src, appended{in, size, dss}, size+int64(len(dss)), reg.now())
	if err != nil {
		return nil, err
	}
	return append(dss, ts...), nil
}
