// Package seal keeps an organisation's electronic seals (GB/T 38540 SESeal
// objects with their SM2 signer keys), their lifecycle, and the Stamper and
// Verifier that put seals on PDFs and check them.
//
// Org is the organisation's PKI (org.go); Registry keeps the seals and their
// authorizations (registry.go, authz.go), each seal's authorization policy
// (policy.go), the responsible persons enrolled for it (person.go) and the
// authorization requests they approve by signing grant bytes (request.go,
// grant.go); Stamper signs one seal onto a PDF
// (a SignRequest); Service is the stamping desk of the REST path, which turns
// a StampRequest — one or more SealUses, each under its own authorization —
// into a Stamped, archived document exactly once (service.go), and looks
// after the documents it archived.
//
// All state lives in the archive.Store: a seal is a set of write-once objects
// under seals/<id>/, and its status is the newest of an append-only series of
// status events, so no object is ever rewritten.
package seal

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Status is where a seal is in its lifecycle.
type Status string

// Seal lifecycle states. Active seals stamp; suspended seals may be resumed;
// revoked is final and also revokes the seal's signer certificate.
const (
	Active    Status = "active"
	Suspended Status = "suspended"
	Revoked   Status = "revoked"
)

// Type is the GB/T 38540 seal type. The standard leaves the values to the
// business; eseal uses the customary ones.
type Type int

// Customary seal types (GM/T 0031 used 1 unit, 2 personal; the others follow
// common practice in Chinese seal platforms).
const (
	TypeOfficial  Type = 1 // 公章 (unit seal)
	TypePersonal  Type = 2 // 个人章
	TypeFinance   Type = 3 // 财务专用章
	TypeContract  Type = 4 // 合同专用章
	TypeApproval  Type = 5 // 行政审批专用章
	TypeInvoice   Type = 6 // 发票专用章
	maxKnownTypes      = 6
)

// Seal is what the registry knows about one seal. The signed GB/T 38540 object
// is kept as SESeal; everything else is derived from it or from the status
// history.
type Seal struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Type       Type      `json:"type"`
	WidthMM    int       `json:"width_mm"`
	HeightMM   int       `json:"height_mm"`
	ValidStart time.Time `json:"valid_start"`
	ValidEnd   time.Time `json:"valid_end"`
	Created    time.Time `json:"created"`
	// SignerSerial is the hex serial number of the seal's signer certificate.
	SignerSerial string `json:"signer_serial"`
	// Unit is the unit that owns the seal; empty for the first unit's (and
	// every seal made before units).
	Unit string `json:"unit,omitempty"`
	// Status and the event that set it.
	Status       Status    `json:"status"`
	StatusReason string    `json:"status_reason,omitempty"`
	StatusTime   time.Time `json:"status_time"`
}

// StatusEvent records one lifecycle change of a seal.
type StatusEvent struct {
	Status Status    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
	By     string    `json:"by,omitempty"`
}

// NotFoundError says that no seal has the given id.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("seal %q not found", e.ID) }

// StateError says that a seal cannot be used or changed in its current state.
type StateError struct {
	ID     string
	Status Status
	Reason string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("seal %s is %s: %s", e.ID, e.Status, e.Reason)
}

// InvalidError says that a request to create or change a seal is malformed.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid seal request: " + e.Reason }

var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^seal-[a-z2-7]{13}$`) })

// ValidID reports whether s has the form of a seal id. Ids are checked before
// they reach the store, so path tricks never get that far.
func ValidID(s string) bool { return idPattern().MatchString(s) }

func newID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "seal-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
