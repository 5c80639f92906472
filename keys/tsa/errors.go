package tsa

import (
	"fmt"
	"strings"
)

// Reason says what went wrong in a *Error.
type Reason int

// Reasons carried by a *Error.
const (
	// Unavailable: the TSA could not be reached or did not answer in time
	// (connection refused, timeout, HTTP 5xx, 408 or 429). A caller that
	// may go without a timestamp degrades on this reason.
	Unavailable Reason = iota + 1
	// Rejected: the TSA answered with a PKIStatus other than granted; the
	// error carries Status and FailInfo. Server.Stamp returns it for a
	// request it refuses.
	Rejected
	// BadReply: the TSA answered something that is not a usable reply:
	// wrong HTTP status or content type, malformed response, a token that
	// does not verify, or an imprint or nonce that differs from the request.
	BadReply
	// Malformed: a request, response or token is not well-formed DER of
	// the expected structure.
	Malformed
	// Invalid: a token's signature, messageDigest or signing-certificate
	// attribute does not check.
	Invalid
	// ImprintMismatch: a valid token stamps other data than the caller's.
	ImprintMismatch
	// BadInput: the caller's own input or configuration is unusable (a
	// digest that is not 32 bytes, a Client without URL).
	BadInput
	// Unsupported: a token uses an algorithm eseal does not check (an RSA
	// signature, an imprint hash other than SM3 or SHA-2): it is neither
	// valid nor invalid here.
	Unsupported
)

var reasonNames = map[Reason]string{
	Unavailable:     "TSA unavailable",
	Unsupported:     "unsupported algorithm",
	Rejected:        "request rejected",
	BadReply:        "bad reply",
	Malformed:       "malformed",
	Invalid:         "invalid token",
	ImprintMismatch: "message imprint mismatch",
	BadInput:        "bad input",
}

// String returns a short English name of the reason.
func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Error is the error type of this package.
type Error struct {
	Reason Reason
	// Status and FailInfo are the TSA's answer when Reason is Rejected.
	Status   PKIStatus
	FailInfo FailureInfo
	Detail   string
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tsa: ")
	b.WriteString(e.Reason.String())
	if e.Reason == Rejected {
		fmt.Fprintf(&b, " (%s", e.Status)
		if e.FailInfo != 0 {
			fmt.Fprintf(&b, ", %s", e.FailInfo)
		}
		b.WriteString(")")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func rejectf(fail FailureInfo, format string, args ...any) *Error {
	return &Error{Reason: Rejected, Status: StatusRejection, FailInfo: fail, Detail: fmt.Sprintf(format, args...)}
}
