package tsa

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
)

func FuzzParseToken(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.stamp(f, testDigest, big.NewInt(5), true))
	f.Add(fx.stamp(f, testDigest, nil, false))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := ParseToken(der)
		if err != nil {
			if errorReason(err) != Malformed {
				t.Fatalf("error without reason Malformed: %v", err)
			}
			return
		}
		// Verify must not panic on anything ParseToken accepts.
		_ = tok.Verify(testDigest)
		if !bytes.Equal(tok.Raw, der) {
			t.Fatal("Raw differs from the input")
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	fx := newFixture(f)
	for _, certReq := range []bool{true, false} {
		req, _ := NewRequest(testDigest, big.NewInt(99), certReq)
		der, _ := req.Marshal()
		f.Add(der)
	}
	withPolicy, _ := NewRequest(testDigest, nil, true)
	withPolicy.ReqPolicy = testPolicy
	der, _ := withPolicy.Marshal()
	f.Add(der)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := ParseRequest(der)
		if err != nil {
			if errorReason(err) != Malformed {
				t.Fatalf("error without reason Malformed: %v", err)
			}
			return
		}
		// What the parser accepts, the server stamps or rejects with a reason.
		tok, err := fx.server.Stamp(req)
		if err != nil {
			if e := errorReason(err); e != Rejected {
				t.Fatalf("Stamp: %v", err)
			}
			return
		}
		parsed, err := ParseToken(tok)
		if err != nil {
			t.Fatalf("server made an unparsable token: %v", err)
		}
		if err := parsed.Verify(req.MessageImprint.HashedMessage); err != nil && req.CertReq {
			t.Fatalf("server made a token that does not verify: %v", err)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	ok, _ := (&TimeStampResp{Status: StatusInfo{Status: StatusGranted}, Token: []byte{0x30, 0}}).Marshal()
	rej, _ := (&TimeStampResp{Status: StatusInfo{Status: StatusRejection, FailInfo: FailBadAlg, StatusString: []string{"x"}}}).Marshal()
	f.Add(ok)
	f.Add(rej)
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := ParseResponse(der)
		if err != nil {
			return
		}
		if _, err := r.Marshal(); err != nil {
			t.Fatalf("parsed response does not marshal: %v", err)
		}
	})
}

// errorReason returns the Reason of err if it is a *Error, else 0.
func errorReason(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func BenchmarkStamp(b *testing.B) {
	f := newFixture(b)
	req, _ := NewRequest(testDigest, big.NewInt(1), true)
	for b.Loop() {
		if _, err := f.server.Stamp(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVerifyToken(b *testing.B) {
	f := newFixture(b)
	der := f.stamp(b, testDigest, big.NewInt(1), true)
	for b.Loop() {
		tok, err := ParseToken(der)
		if err != nil {
			b.Fatal(err)
		}
		if err := tok.Verify(testDigest); err != nil {
			b.Fatal(err)
		}
	}
}
