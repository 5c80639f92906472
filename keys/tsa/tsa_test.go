package tsa

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/keystest"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	tsm2 "github.com/tjfoc/gmsm/sm2"
	tx509 "github.com/tjfoc/gmsm/x509"
)

var (
	testPolicy = cms.MustOID("1.2.156.112.9.1")
	testNow    = time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
	testDigest = func() []byte { d := sm3.Sum([]byte("SignerInfo signature value")); return d[:] }()
)

type fixture struct {
	root   *smx509.Certificate
	trust  *keys.TrustStore
	server *Server
	signer *smx509.Certificate // a KindSigner certificate, not for timestamps
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := keystest.New(t, keystest.Options{})
	tsaKey, tsaCert := root.Issue(t, keys.KindTSA, "Org TSA")
	_, signerCert := root.Issue(t, keys.KindSigner, "Seal")
	serial := int64(1000)
	return &fixture{
		root:   root.CA.Cert,
		trust:  root.TrustStore(),
		signer: signerCert,
		server: &Server{
			Signer: tsaKey, Cert: tsaCert, Chain: []*smx509.Certificate{root.CA.Cert}, Policy: testPolicy,
			Now:    func() time.Time { return testNow },
			Serial: func() *big.Int { serial++; return big.NewInt(serial) },
		},
	}
}

func (f *fixture) stamp(t testing.TB, digest []byte, nonce *big.Int, certReq bool) []byte {
	t.Helper()
	req, err := NewRequest(digest, nonce, certReq)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.server.Stamp(req)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantReason(t *testing.T, err error, r Reason) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Reason != r {
		t.Fatalf("error %v, want a *Error with reason %q", err, r)
	}
	return e
}

// TestRoundTripHTTP: our Client against our Server on loopback, then the
// token verified and its TSA certificate validated by the trust store.
func TestRoundTripHTTP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.server)
	defer srv.Close()
	c := &Client{URL: srv.URL, Timeout: 5 * time.Second}
	der, err := c.Timestamp(context.Background(), testDigest)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(testDigest); err != nil {
		t.Fatal(err)
	}
	if want := testNow.Truncate(time.Millisecond); !tok.GenTime.Equal(want) {
		t.Errorf("GenTime %v, want %v", tok.GenTime, want)
	}
	if tok.Serial.Int64() != 1001 || !tok.Policy.Equal(testPolicy) || tok.Info.Nonce == nil {
		t.Errorf("serial %v policy %v nonce %v", tok.Serial, tok.Policy, tok.Info.Nonce)
	}
	if tok.Cert == nil || !bytes.Equal(tok.Cert.Raw, f.server.Cert.Raw) {
		t.Fatal("token does not name the TSA certificate")
	}
	if _, err := f.trust.Verify(tok.Cert, tok.Certificates, tok.GenTime, keys.UsageTimestamp); err != nil {
		t.Fatalf("TSA certificate: %v", err)
	}
	// The TSA field names the certificate's subject.
	if want := mustMarshal(directoryName(tok.Cert.RawSubject)); !bytes.Equal(tok.Info.TSA, want) {
		t.Errorf("tsa %x, want %x", tok.Info.TSA, want)
	}
	if !tok.SignedData.SignerInfos[0].SigningTime.Equal(testNow.Truncate(time.Second)) {
		t.Errorf("signingTime %v", tok.SignedData.SignerInfos[0].SigningTime)
	}
}

// TestSignerCertIsNotATSA: a signature by a certificate without the
// timeStamping EKU passes Token.Verify (it only checks the signature) but
// not the trust store with UsageTimestamp — which is why that call is the
// caller's duty.
func TestSignerCertIsNotATSA(t *testing.T) {
	f := newFixture(t)
	other := keystest.New(t, keystest.Options{Org: "Other"})
	sk, cert := other.Issue(t, keys.KindSigner, "not a TSA")
	f.server.Signer, f.server.Cert = sk, cert
	tok, err := ParseToken(f.stamp(t, testDigest, nil, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(testDigest); err != nil {
		t.Fatal(err)
	}
	var ce *keys.CertificateError
	if _, err := other.TrustStore().Verify(tok.Cert, nil, tok.GenTime, keys.UsageTimestamp); !errors.As(err, &ce) || ce.Reason != keys.ReasonBadKeyUsage {
		t.Fatalf("trust store: %v, want bad key usage", err)
	}
}

func TestStampWithoutCertReq(t *testing.T) {
	f := newFixture(t)
	tok, err := ParseToken(f.stamp(t, testDigest, nil, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.SignedData.RawCertificates) != 0 || tok.Cert != nil {
		t.Fatal("certificates present although certReq was false (RFC 3161 §2.4.1)")
	}
	wantReason(t, tok.Verify(testDigest), Invalid)
	if tok.Info.Nonce != nil {
		t.Errorf("nonce %v without one in the request", tok.Info.Nonce)
	}
}

func TestWrongImprint(t *testing.T) {
	f := newFixture(t)
	tok, err := ParseToken(f.stamp(t, testDigest, big.NewInt(7), true))
	if err != nil {
		t.Fatal(err)
	}
	other := sm3.Sum([]byte("other"))
	wantReason(t, tok.Verify(other[:]), ImprintMismatch)
	wantReason(t, tok.Verify(nil), ImprintMismatch)
}

// TestTamper flips every byte of the TSTInfo and of the signature: each
// must make the token unparsable or fail Verify.
func TestTamper(t *testing.T) {
	f := newFixture(t)
	der := f.stamp(t, testDigest, big.NewInt(42), true)
	tok, err := ParseToken(der)
	if err != nil {
		t.Fatal(err)
	}
	si := tok.SignedData.SignerInfos[0]
	regions := []struct {
		name string
		part []byte
	}{
		{"TSTInfo", tok.RawInfo},
		{"signature", si.Signature},
		{"signed attributes", si.RawSignedAttributes},
	}
	for _, r := range regions {
		t.Run(r.name, func(t *testing.T) {
			off := bytes.Index(der, r.part)
			if off < 0 || bytes.Contains(der[off+1:], r.part) {
				t.Fatal("region not found once in the token")
			}
			for i := range r.part {
				bad := bytes.Clone(der)
				bad[off+i] ^= 0x01
				tok, err := ParseToken(bad)
				if err == nil {
					err = tok.Verify(testDigest)
				}
				if err == nil {
					t.Fatalf("byte %d of the %s flipped: token still verifies", i, r.name)
				}
				if rs := errorReason(err); rs != Malformed && rs != Invalid && rs != ImprintMismatch {
					t.Fatalf("byte %d: error %v has no expected reason", i, err)
				}
			}
		})
	}
	t.Run("trailing byte", func(t *testing.T) {
		_, err := ParseToken(append(bytes.Clone(der), 0))
		wantReason(t, err, Malformed)
	})
}

// TestTjfocVerifiesToken checks the token's SM2 signature with an
// independent implementation, github.com/tjfoc/gmsm.
func TestTjfocVerifiesToken(t *testing.T) {
	f := newFixture(t)
	tok, err := ParseToken(f.stamp(t, testDigest, big.NewInt(1), true))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tx509.ParseCertificate(tok.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var pub *tsm2.PublicKey
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		//lint:ignore SA1019 tjfoc/gmsm keys are built from the raw coordinates.
		pub = &tsm2.PublicKey{Curve: k.Curve, X: k.X, Y: k.Y}
	case *tsm2.PublicKey:
		pub = k
	default:
		t.Fatalf("tjfoc public key %T", k)
	}
	si := tok.SignedData.SignerInfos[0]
	msg := bytes.Clone(si.RawSignedAttributes)
	msg[0] = 0x31
	if !pub.Verify(msg, si.Signature) {
		t.Fatal("tjfoc rejects the token signature")
	}
	if pub.Verify(append(msg, 0), si.Signature) {
		t.Fatal("tjfoc accepts the signature over other attributes")
	}
	d := sm3.Sum(tok.RawInfo)
	if !bytes.Equal(si.MessageDigest, d[:]) {
		t.Fatal("messageDigest is not SM3 of the TSTInfo")
	}
}

func TestStampRejects(t *testing.T) {
	f := newFixture(t)
	sha := sha256.Sum256([]byte("x"))
	sm3Alg := pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3}
	tests := []struct {
		name string
		req  TimeStampReq
		want FailureInfo
	}{
		{"SHA-256 imprint", TimeStampReq{Version: 1, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256}, sha[:]}}, FailBadAlg},
		{"SM3 with parameters", TimeStampReq{Version: 1, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3, Parameters: asn1.RawValue{FullBytes: []byte{2, 1, 0}}}, testDigest}}, FailBadAlg},
		{"short SM3 imprint", TimeStampReq{Version: 1, MessageImprint: MessageImprint{sm3Alg, testDigest[:20]}}, FailBadDataFormat},
		{"version 2", TimeStampReq{Version: 2, MessageImprint: MessageImprint{sm3Alg, testDigest}}, FailBadDataFormat},
		{"other policy", TimeStampReq{Version: 1, MessageImprint: MessageImprint{sm3Alg, testDigest}, ReqPolicy: cms.MustOID("1.2.3")}, FailUnacceptedPolicy},
		{"extension", TimeStampReq{Version: 1, MessageImprint: MessageImprint{sm3Alg, testDigest}, Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}}, FailUnacceptedExtension},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.server.Stamp(&tt.req)
			if e := wantReason(t, err, Rejected); e.FailInfo != tt.want || e.Status != StatusRejection {
				t.Fatalf("%v, want %s", err, tt.want)
			}
		})
	}
	t.Run("NULL parameters accepted", func(t *testing.T) {
		req := TimeStampReq{Version: 1, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3, Parameters: asn1.NullRawValue}, testDigest}, ReqPolicy: testPolicy}
		if _, err := f.server.Stamp(&req); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unconfigured server", func(t *testing.T) {
		_, err := (&Server{}).Stamp(&TimeStampReq{Version: 1})
		if e := wantReason(t, err, Rejected); e.FailInfo != FailSystemFailure {
			t.Fatal(err)
		}
	})
}

func post(t *testing.T, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestHostileRequests: transport errors are HTTP 4xx; anything that reaches
// the TSP layer is a rejection reply with the right failInfo.
func TestHostileRequests(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.server)
	defer srv.Close()
	good, _ := (&TimeStampReq{Version: 1, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3}, testDigest}, CertReq: true}).Marshal()
	sha := sha256.Sum256([]byte("x"))
	shaReq, _ := (&TimeStampReq{Version: 1, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, sha[:]}}).Marshal()
	v2 := bytes.Clone(good)
	v2[4] = 2 // 30 L 02 01 <version>
	tests := []struct {
		name        string
		contentType string
		body        []byte
		httpStatus  int
		fail        FailureInfo // for 200: the rejection expected; 0 = granted
	}{
		{"good", ContentTypeQuery, good, 200, 0},
		{"good with parameters", ContentTypeQuery + "; charset=binary", good, 200, 0},
		{"empty", ContentTypeQuery, nil, 200, FailBadDataFormat},
		{"truncated", ContentTypeQuery, good[:len(good)-3], 200, FailBadDataFormat},
		{"trailing data", ContentTypeQuery, append(bytes.Clone(good), 0), 200, FailBadDataFormat},
		{"not DER", ContentTypeQuery, []byte("hello, TSA"), 200, FailBadDataFormat},
		{"version 2", ContentTypeQuery, v2, 200, FailBadDataFormat},
		{"SHA-256", ContentTypeQuery, shaReq, 200, FailBadAlg},
		{"indefinite length", ContentTypeQuery, append([]byte{0x30, 0x80}, append(good[2:], 0, 0)...), 200, FailBadDataFormat},
		{"wrong content type", "application/octet-stream", good, 415, 0},
		{"no content type", "", good, 415, 0},
		{"oversize", ContentTypeQuery, make([]byte, MaxRequestSize+1), 413, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, srv.URL, tt.contentType, tt.body)
			if resp.StatusCode != tt.httpStatus {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tt.httpStatus, body)
			}
			if tt.httpStatus != 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != ContentTypeReply {
				t.Fatalf("content type %q", ct)
			}
			r, err := ParseResponse(body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail == 0 {
				if r.Status.Status != StatusGranted || r.Token == nil {
					t.Fatalf("status %v", r.Status)
				}
				return
			}
			if r.Status.Status != StatusRejection || r.Status.FailInfo != tt.fail || r.Token != nil || len(r.Status.StatusString) != 1 {
				t.Fatalf("status %+v, want rejection %s", r.Status, tt.fail)
			}
		})
	}
	t.Run("oversize without Content-Length", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			pw.Write(make([]byte, MaxRequestSize+10)) //nolint:errcheck
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
		req.Header.Set("Content-Type", ContentTypeQuery)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("HTTP %d, want 413", r.StatusCode)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("HTTP %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}

// TestClientChecksReply runs the Client against TSAs that misbehave.
func TestClientChecksReply(t *testing.T) {
	f := newFixture(t)
	// tamper returns a handler that stamps the request after change has
	// altered it, so the reply is validly signed but for something else.
	tamper := func(change func(*TimeStampReq)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			req, err := ParseRequest(body)
			if err != nil {
				t.Error(err)
				return
			}
			change(req)
			tok, err := f.server.Stamp(req)
			if err != nil {
				t.Error(err)
				return
			}
			der, _ := (&TimeStampResp{Status: StatusInfo{Status: StatusGranted}, Token: tok}).Marshal()
			w.Header().Set("Content-Type", ContentTypeReply)
			w.Write(der) //nolint:errcheck
		}
	}
	reply := func(code int, ct string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(code)
			w.Write(body) //nolint:errcheck
		}
	}
	rejection, _ := (&TimeStampResp{Status: StatusInfo{Status: StatusRejection, FailInfo: FailTimeNotAvailable, StatusString: []string{"时钟不同步"}}}).Marshal()
	grantedEmpty, _ := (&TimeStampResp{Status: StatusInfo{Status: StatusGranted}}).Marshal()
	tests := []struct {
		name    string
		handler http.Handler
		want    Reason
	}{
		{"nonce mismatch", tamper(func(r *TimeStampReq) { r.Nonce.Add(r.Nonce, big.NewInt(1)) }), BadReply},
		{"nonce dropped", tamper(func(r *TimeStampReq) { r.Nonce = nil }), BadReply},
		{"other imprint", tamper(func(r *TimeStampReq) { r.MessageImprint.HashedMessage = make([]byte, 32) }), BadReply},
		{"no certificate", tamper(func(r *TimeStampReq) { r.CertReq = false }), BadReply},
		{"rejection", reply(200, ContentTypeReply, rejection), Rejected},
		{"granted without token", reply(200, ContentTypeReply, grantedEmpty), BadReply},
		{"garbage", reply(200, ContentTypeReply, []byte("<html>")), BadReply},
		{"wrong content type", reply(200, "text/html", rejection), BadReply},
		{"HTTP 404", reply(404, "text/plain", nil), BadReply},
		{"HTTP 503", reply(503, "text/plain", nil), Unavailable},
		{"HTTP 429", reply(429, "text/plain", nil), Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			tok, err := (&Client{URL: srv.URL}).Timestamp(context.Background(), testDigest)
			e := wantReason(t, err, tt.want)
			if tok != nil {
				t.Fatal("token returned with an error")
			}
			if tt.want == Rejected && (e.FailInfo != FailTimeNotAvailable || !strings.Contains(e.Error(), "时钟不同步")) {
				t.Fatalf("rejection error %v", e)
			}
		})
	}
	t.Run("digest not SM3 sized", func(t *testing.T) {
		_, err := (&Client{URL: "http://127.0.0.1:1"}).Timestamp(context.Background(), testDigest[:20])
		wantReason(t, err, BadInput)
	})
	t.Run("slow TSA times out", func(t *testing.T) {
		block := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
		defer srv.Close()
		defer close(block)
		start := time.Now()
		_, err := (&Client{URL: srv.URL, Timeout: 200 * time.Millisecond}).Timestamp(context.Background(), testDigest)
		wantReason(t, err, Unavailable)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

func TestClientClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/tsa"
	l.Close()
	start := time.Now()
	_, err = (&Client{URL: url}).Timestamp(context.Background(), testDigest)
	wantReason(t, err, Unavailable)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("closed port took %v to report", d)
	}
}

func TestEncodings(t *testing.T) {
	// PKIFailureInfo as DER named bits: no trailing zero bits.
	for _, tt := range []struct {
		f    FailureInfo
		want string
	}{
		{FailBadAlg, "03020780"},
		{FailBadDataFormat, "03020204"},
		{FailSystemFailure, "03050600000040"},
		{FailBadAlg | FailBadRequest, "030205a0"},
	} {
		der, _ := asn1.Marshal(tt.f.bitString())
		if got := hex.EncodeToString(der); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.f, got, tt.want)
		}
		var bs asn1.BitString
		asn1.Unmarshal(der, &bs) //nolint:errcheck
		if failureInfoFrom(bs) != tt.f {
			t.Errorf("%s does not round-trip", tt.f)
		}
	}
	// genTime: fractions without trailing zeros, none for whole seconds.
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), "20260304050607Z"},
		{time.Date(2026, 3, 4, 5, 6, 7, 500_000_000, time.UTC), "20260304050607.5Z"},
		{time.Date(2026, 3, 4, 13, 6, 7, 891_000_000, time.FixedZone("CST", 8*3600)), "20260304050607.891Z"},
	} {
		info := TSTInfo{Version: 1, Policy: testPolicy, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3}, testDigest},
			SerialNumber: big.NewInt(1), GenTime: tt.t, Accuracy: Accuracy{Millis: 5}}
		der, err := info.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(der, append([]byte{0x18, byte(len(tt.want))}, tt.want...)) {
			t.Errorf("%v: genTime not encoded as %s: %x", tt.t, tt.want, der)
		}
		back, err := ParseTSTInfo(der)
		if err != nil {
			t.Fatal(err)
		}
		if !back.GenTime.Equal(tt.t) || back.Accuracy.Duration() != 5*time.Millisecond {
			t.Errorf("round trip: %v %v", back.GenTime, back.Accuracy)
		}
	}
	for _, s := range []string{"20260304050607.50Z", "20260304050607+0800", "20260304050607.Z", "202603040506Z"} {
		raw := rawTSTInfo{Version: 1, Policy: testPolicy.RawValue(), SerialNumber: big.NewInt(1), GenTime: asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: []byte(s)},
			MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3}, testDigest}}
		der, _ := asn1.Marshal(raw)
		if _, err := ParseTSTInfo(der); errorReason(err) != Malformed {
			t.Errorf("genTime %q: %v, want Malformed", s, err)
		}
	}
}

// A request round-trips through Marshal and ParseRequest with every
// optional field, a policy with a 128-bit UUID arc included (which
// encoding/asn1's ObjectIdentifier cannot hold); fields out of order or
// repeated are malformed.
func TestRequestFields(t *testing.T) {
	uuidPolicy := cms.MustOID("2.25.64693171627294065741459426975091645977.1")
	req := TimeStampReq{Version: 1, MessageImprint: MessageImprint{pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3}, testDigest},
		ReqPolicy: uuidPolicy, Nonce: big.NewInt(7), CertReq: true,
		Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}}
	der, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ReqPolicy.Equal(uuidPolicy) || got.Nonce.Int64() != 7 || !got.CertReq || len(got.Extensions) != 1 || !got.Extensions[0].Id.Equal(asn1.ObjectIdentifier{1, 2, 3}) {
		t.Fatalf("%+v", got)
	}
	f := newFixture(t)
	srv := *f.server
	srv.Policy = uuidPolicy
	req.Extensions = nil
	tokDER, err := srv.Stamp(&req)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(tokDER)
	if err != nil || !tok.Policy.Equal(uuidPolicy) {
		t.Fatalf("token policy %v: %v", tok.Policy, err)
	}
	elem := func(v any) []byte { b, _ := asn1.Marshal(v); return b }
	seq := func(parts ...[]byte) []byte {
		b, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(parts, nil)})
		return b
	}
	head := [][]byte{elem(1), elem(req.MessageImprint)}
	for name, der := range map[string][]byte{
		"nonce before policy":    seq(append(head, elem(big.NewInt(1)), uuidPolicy.DER())...),
		"policy twice":           seq(append(head, uuidPolicy.DER(), uuidPolicy.DER())...),
		"unknown element":        seq(append(head, elem("text"))...),
		"malformed policy":       seq(append(head, []byte{6, 1, 0x80})...),
		"no imprint":             seq(elem(1)),
		"not a sequence":         elem(1),
		"certReq before nonce":   seq(append(head, elem(true), elem(big.NewInt(1)))...),
		"trailing data":          append(seq(head...), 0),
		"set instead of request": func() []byte { b := seq(head...); b[0] = 0x31; return b }(),
	} {
		if _, err := ParseRequest(der); errorReason(err) != Malformed {
			t.Errorf("%s: %v", name, err)
		}
	}
}
