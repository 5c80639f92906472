package tsa

import (
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"mime"
	"net/http"
	"time"

	"eseal/keys/cms"

	"github.com/emmansun/gmsm/smx509"
)

// MaxRequestSize is the largest request body the Server reads. An SM3
// request is under 100 bytes; the limit leaves room for extensions.
const MaxRequestSize = 64 << 10

// Server is an RFC 3161 time-stamping authority: Stamp makes tokens, and
// ServeHTTP answers POST application/timestamp-query with
// application/timestamp-reply (RFC 3161 §3.4). Only SM3 imprints are
// accepted. A Server is safe for concurrent use if Signer, Now and Serial
// are.
type Server struct {
	// Signer holds the SM2 key of Cert (see keys.SignSM2).
	Signer crypto.Signer
	// Cert is the TSA certificate (keys.KindTSA: critical extended key
	// usage timeStamping); embedded when the request has certReq.
	Cert *smx509.Certificate
	// Chain holds further certificates embedded with Cert.
	Chain []*smx509.Certificate
	// Policy is the TSA policy written into every TSTInfo; a request
	// naming another policy is rejected with unacceptedPolicy.
	Policy cms.OID
	// Now returns the time to stamp; time.Now when nil. GenTime is written
	// to the millisecond.
	Now func() time.Time
	// Serial returns a new positive serial number, unique for this TSA;
	// 128 random bits when nil.
	Serial func() *big.Int
}

// Stamp returns the DER token for req. A request it refuses gives a *Error
// with Reason Rejected and the FailInfo to answer with: badAlg for an
// imprint that is not SM3, badDataFormat for a wrong version or imprint
// length, unacceptedPolicy, unacceptedExtension (no extension is
// supported); a server that cannot sign gives FailSystemFailure.
func (s *Server) Stamp(req *TimeStampReq) ([]byte, error) {
	if s.Signer == nil || s.Cert == nil || !s.Policy.Valid() {
		return nil, rejectf(FailSystemFailure, "server needs Signer, Cert and Policy")
	}
	if req == nil {
		return nil, rejectf(FailBadRequest, "no request")
	}
	if req.Version != 1 {
		return nil, rejectf(FailBadDataFormat, "version %d, want 1", req.Version)
	}
	mi := req.MessageImprint
	if !mi.isSM3() {
		return nil, rejectf(FailBadAlg, "hash algorithm %v, only SM3 (%v) is accepted", mi.HashAlgorithm.Algorithm, cms.OIDSM3)
	}
	if len(mi.HashedMessage) != 32 {
		return nil, rejectf(FailBadDataFormat, "SM3 imprint of %d bytes, want 32", len(mi.HashedMessage))
	}
	if req.ReqPolicy != nil && !req.ReqPolicy.Equal(s.Policy) {
		return nil, rejectf(FailUnacceptedPolicy, "policy %v, this TSA uses %v", req.ReqPolicy, s.Policy)
	}
	if len(req.Extensions) > 0 {
		return nil, rejectf(FailUnacceptedExtension, "extension %v", req.Extensions[0].Id)
	}

	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	genTime := now().UTC().Truncate(time.Millisecond)
	serial, err := s.serial()
	if err != nil {
		return nil, &Error{Reason: Rejected, Status: StatusRejection, FailInfo: FailSystemFailure, Detail: "serial number", Err: err}
	}
	info := TSTInfo{
		Version:        1,
		Policy:         s.Policy,
		MessageImprint: mi,
		SerialNumber:   serial,
		GenTime:        genTime,
		Nonce:          req.Nonce,
		// RFC 3161 §2.4.2: if present, one of the certificate's subject names.
		TSA: mustMarshal(directoryName(s.Cert.RawSubject)),
	}
	infoDER, err := info.Marshal()
	if err != nil {
		return nil, &Error{Reason: Rejected, Status: StatusRejection, FailInfo: FailSystemFailure, Detail: "TSTInfo", Err: err}
	}
	essAttr, err := cms.SigningCertificateV2(s.Cert)
	if err != nil {
		return nil, &Error{Reason: Rejected, Status: StatusRejection, FailInfo: FailSystemFailure, Detail: "signingCertificateV2", Err: err}
	}
	token, err := cms.SignEncapsulated(infoDER, OIDTSTInfo, cms.SignOptions{
		Signer:                s.Signer,
		Cert:                  s.Cert,
		Chain:                 s.Chain,
		SigningTime:           genTime,
		ExtraSignedAttributes: []cms.Attribute{essAttr},
		NoCertificates:        !req.CertReq,
	})
	if err != nil {
		return nil, &Error{Reason: Rejected, Status: StatusRejection, FailInfo: FailSystemFailure, Detail: "signing", Err: err}
	}
	return token, nil
}

func (s *Server) serial() (*big.Int, error) {
	if s.Serial != nil {
		n := s.Serial()
		if n == nil || n.Sign() <= 0 {
			return nil, errors.New("tsa: Server.Serial returned a number that is not positive")
		}
		return n, nil
	}
	for {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
		if err != nil {
			return nil, err
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only called with values encoding/asn1 always encodes
	}
	return b
}

// ServeHTTP answers RFC 3161 requests over HTTP. Transport errors are HTTP
// errors: 405 for a method other than POST, 415 for another content type,
// 413 for a body over MaxRequestSize. Everything that reaches the TSP
// layer is answered 200 with a TimeStampResp: granted with a token, or
// rejection with badDataFormat for a body that is not a TimeStampReq and
// the FailInfo of Stamp otherwise.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST an application/timestamp-query", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeQuery {
		http.Error(w, "content type must be "+ContentTypeQuery, http.StatusUnsupportedMediaType)
		return
	}
	if r.ContentLength > MaxRequestSize {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}

	var resp TimeStampResp
	req, err := ParseRequest(body)
	if err != nil {
		resp.Status = StatusInfo{Status: StatusRejection, FailInfo: FailBadDataFormat, StatusString: []string{"not a DER TimeStampReq"}}
	} else if token, err := s.Stamp(req); err != nil {
		resp.Status = StatusInfo{Status: StatusRejection, FailInfo: FailSystemFailure, StatusString: []string{"internal error"}}
		var e *Error
		if errors.As(err, &e) && e.Reason == Rejected && e.FailInfo != FailSystemFailure {
			resp.Status = StatusInfo{Status: StatusRejection, FailInfo: e.FailInfo, StatusString: []string{e.Detail}}
		}
	} else {
		resp.Status = StatusInfo{Status: StatusGranted}
		resp.Token = token
	}
	der, err := resp.Marshal()
	if err != nil {
		http.Error(w, "cannot encode the response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentTypeReply)
	w.Write(der) //nolint:errcheck // the client went away; nothing to do
}
