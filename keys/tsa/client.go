package tsa

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"time"
)

// DefaultTimeout bounds a Client exchange whose Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxReplySize bounds the reply a Client reads; a token with a certificate
// chain is a few kilobytes.
const maxReplySize = 1 << 20

// Client asks an RFC 3161 TSA over HTTP for SM3 time-stamp tokens.
type Client struct {
	// URL is the TSA's HTTP(S) endpoint.
	URL string
	// HTTP is the client to use; http.DefaultClient when nil.
	HTTP *http.Client
	// Timeout bounds the whole exchange; DefaultTimeout when zero.
	Timeout time.Duration
}

// Timestamp asks the TSA to stamp digest (32 bytes, SM3) and returns the
// DER token. The request carries a random 64-bit nonce and certReq; the
// reply must be granted and hold a token whose signature verifies with the
// embedded TSA certificate (Token.Verify) and whose imprint and nonce are
// the request's. The TSA certificate's trust is not checked here.
//
// Errors are *Error: Unavailable when the TSA cannot be reached in time or
// answers HTTP 5xx, 408 or 429 (a caller may then go on without a
// timestamp), Rejected when it refuses, BadReply for any other answer,
// BadInput for a bad digest or Client.
func (c *Client) Timestamp(ctx context.Context, digest []byte) ([]byte, error) {
	if c.URL == "" {
		return nil, &Error{Reason: BadInput, Detail: "Client.URL is empty"}
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, &Error{Reason: BadInput, Detail: "nonce", Err: err}
	}
	req, err := NewRequest(digest, nonce, true)
	if err != nil {
		return nil, err
	}
	body, err := req.Marshal()
	if err != nil {
		return nil, &Error{Reason: BadInput, Detail: "encode request", Err: err}
	}

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Reason: BadInput, Detail: "Client.URL", Err: err}
	}
	hreq.Header.Set("Content-Type", ContentTypeQuery)
	hreq.Header.Set("Accept", ContentTypeReply)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	hresp, err := hc.Do(hreq)
	if err != nil {
		return nil, &Error{Reason: Unavailable, Err: err}
	}
	defer hresp.Body.Close()
	switch code := hresp.StatusCode; {
	case code == http.StatusOK:
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return nil, &Error{Reason: Unavailable, Detail: "HTTP " + hresp.Status}
	default:
		return nil, &Error{Reason: BadReply, Detail: "HTTP " + hresp.Status}
	}
	if mt, _, err := mime.ParseMediaType(hresp.Header.Get("Content-Type")); err != nil || mt != ContentTypeReply {
		return nil, &Error{Reason: BadReply, Detail: fmt.Sprintf("content type %q", hresp.Header.Get("Content-Type"))}
	}
	der, err := io.ReadAll(io.LimitReader(hresp.Body, maxReplySize+1))
	if err != nil {
		// The connection broke or the deadline passed mid-body.
		return nil, &Error{Reason: Unavailable, Detail: "reading the reply", Err: err}
	}
	if len(der) > maxReplySize {
		return nil, &Error{Reason: BadReply, Detail: "reply too large"}
	}
	return checkReply(der, digest, nonce)
}

// checkReply checks a TimeStampResp against the request and returns its token.
func checkReply(der, digest []byte, nonce *big.Int) ([]byte, error) {
	resp, err := ParseResponse(der)
	if err != nil {
		return nil, &Error{Reason: BadReply, Err: err}
	}
	if st := resp.Status; st.Status != StatusGranted && st.Status != StatusGrantedWithMods {
		e := &Error{Reason: Rejected, Status: st.Status, FailInfo: st.FailInfo}
		if len(st.StatusString) > 0 {
			e.Detail = fmt.Sprintf("%q", st.StatusString)
		}
		return nil, e
	}
	if resp.Token == nil {
		return nil, &Error{Reason: BadReply, Detail: "granted without a token"}
	}
	tok, err := ParseToken(resp.Token)
	if err != nil {
		return nil, &Error{Reason: BadReply, Err: err}
	}
	if err := tok.Verify(digest); err != nil {
		return nil, &Error{Reason: BadReply, Err: err}
	}
	if tok.Info.Nonce == nil || tok.Info.Nonce.Cmp(nonce) != 0 {
		return nil, &Error{Reason: BadReply, Detail: "nonce differs from the request's"}
	}
	return tok.Raw, nil
}
