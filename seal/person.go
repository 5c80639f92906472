package seal

// Responsible persons (负责人): the people enrolled for a seal who approve
// each use of it with a credential only they hold. The credential of this
// slice is an SM2 certificate (the UKey habit); enrolment pins that
// certificate whoever issued it, self-signed included, so the person's
// signature is checked against exactly the certificate enrolled.
//
// In the store, every object written once:
//
//	persons/<id>/person.json      the enrolment (name, seal, method, certificate fingerprint)
//	persons/<id>/certificate.pem  the pinned certificate
//	persons/<id>/removed.json     the removal, an event: a removed person approves nothing more
//
// A person belongs to one seal; the same human answering for two seals is
// enrolled twice. Persons sit under their own prefix, not under a seal's, so
// a later unit prefix (units/<unit>/…) can hold them as it holds seals.

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/keys"
)

const personPrefix = "persons/"

// Method is how a responsible person proved an approval; it names the kind
// of evidence kept with the grant.
type Method string

// Approval methods. MethodAPIKey is an authorizer key's direct grant, for
// seals whose policy is PolicyKey; it carries no person.
const (
	MethodSM2    Method = "sm2"
	MethodAPIKey Method = "api-key"
)

// Person is one responsible person enrolled for a seal.
type Person struct {
	ID     string `json:"id"`
	SealID string `json:"seal_id"`
	Name   string `json:"name"`
	Method Method `json:"method"`
	// CertSubject, CertSerial and CertSM3 describe the pinned certificate;
	// CertSM3 is the SM3 of its DER, the pin.
	CertSubject string    `json:"cert_subject,omitempty"`
	CertSerial  string    `json:"cert_serial,omitempty"`
	CertSM3     string    `json:"cert_sm3,omitempty"`
	Enrolled    time.Time `json:"enrolled"`
	EnrolledBy  string    `json:"enrolled_by,omitempty"`
	// State is read, not stored: PersonEnrolling while a passkey person has
	// not registered their passkey, PersonActive once they have (passkey.go).
	State string `json:"state,omitempty"`
	// EnrolmentExpires is when a passkey person's enrolment URL stops working.
	EnrolmentExpires *time.Time `json:"enrolment_expires,omitempty"`
	// Removed is read from the person's removal event; nil while enrolled.
	Removed *StatusEvent `json:"removed,omitempty"`
}

// PersonSpec is what an administrator supplies to enrol a person.
type PersonSpec struct {
	SealID string
	Name   string
	// CertPEM is the person's SM2 certificate, PEM encoded.
	CertPEM []byte
	By      string
}

// PersonReason says why a person cannot be enrolled or cannot approve.
type PersonReason string

// Reasons a person is refused. Each maps to its own problem type.
const (
	PersonNotFound    PersonReason = "not-found"
	PersonRemoved     PersonReason = "removed"
	PersonNotEnrolled PersonReason = "not-enrolled"
	PersonBadCert     PersonReason = "bad-certificate"
)

// PersonError says why a person was refused.
type PersonError struct {
	ID     string
	Reason PersonReason
	Detail string
}

func (e *PersonError) Error() string {
	return fmt.Sprintf("person %s: %s: %s", e.ID, e.Reason, e.Detail)
}

// Audit actions for persons.
const (
	PersonEnrolled audit.Action = "person.enrolled"
	PersonRemovedA audit.Action = "person.removed"
)

var personIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^p-[a-z2-7]{16}$`) })

// ValidPersonID reports whether s has the form of a person id.
func ValidPersonID(s string) bool { return personIDPattern().MatchString(s) }

func personKey(id, name string) string { return personPrefix + id + "/" + name }

// validName accepts a person's or a request's human-readable text: 1 to max
// characters, none of them control characters, so it can stand on one line
// of the grant bytes.
func validName(s string, max int) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// ParsePersonCertificate reads one PEM certificate holding an SM2 public key.
func ParsePersonCertificate(pemBytes []byte) (*smx509.Certificate, error) {
	certs, err := keys.ParseCertificatesPEM(pemBytes)
	if err != nil {
		return nil, &PersonError{Reason: PersonBadCert, Detail: err.Error()}
	}
	if len(certs) != 1 {
		return nil, &PersonError{Reason: PersonBadCert, Detail: fmt.Sprintf("want one certificate, found %d", len(certs))}
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, &PersonError{Reason: PersonBadCert, Detail: "the certificate's key is not SM2"}
	}
	return certs[0], nil
}

// EnrolPerson enrols a responsible person for an active or suspended seal,
// pinning their certificate.
func (r *Registry) EnrolPerson(ctx context.Context, spec PersonSpec) (*Person, error) {
	s, err := r.Get(ctx, spec.SealID)
	if err != nil {
		return nil, err
	}
	if s.Status == Revoked {
		return nil, &StateError{ID: s.ID, Status: s.Status, Reason: "no one can be enrolled for a revoked seal"}
	}
	spec.Name = strings.TrimSpace(spec.Name)
	if !validName(spec.Name, 64) {
		return nil, &InvalidError{"name: 1–64 characters, no control characters"}
	}
	cert, err := ParsePersonCertificate(spec.CertPEM)
	if err != nil {
		return nil, err
	}
	if err := r.checkPersonCert(ctx, "", cert, r.now()); err != nil {
		return nil, err
	}
	sum := sm3.Sum(cert.Raw)
	p := &Person{
		ID: "p-" + randomID(10), SealID: s.ID, Name: spec.Name, Method: MethodSM2,
		CertSubject: cert.Subject.String(), CertSerial: hex.EncodeToString(cert.SerialNumber.Bytes()),
		CertSM3: hex.EncodeToString(sum[:]), Enrolled: r.now().UTC().Truncate(time.Second), EnrolledBy: spec.By,
	}
	// The certificate first: a person.json without it would be a person who
	// cannot approve; a certificate without person.json is unreachable.
	if err := putObject(ctx, r.store, personKey(p.ID, "certificate.pem"), certPEM(cert)); err != nil {
		return nil, err
	}
	if err := putJSON(ctx, r.store, personKey(p.ID, "person.json"), p); err != nil {
		return nil, err
	}
	if err := r.logged(ctx, AuditEvent{Action: PersonEnrolled, Subject: p.ID, Actor: spec.By, Details: map[string]string{
		"seal": p.SealID, "name": p.Name, "method": string(p.Method), "cert_sm3": p.CertSM3, "cert_subject": p.CertSubject}},
		personKey(p.ID, "certificate.pem"), personKey(p.ID, "person.json")); err != nil {
		return nil, err
	}
	p.State = PersonActive
	return p, nil
}

// Person returns an enrolled person, removed or not.
func (r *Registry) Person(ctx context.Context, id string) (*Person, error) {
	if !ValidPersonID(id) {
		return nil, &PersonError{ID: id, Reason: PersonNotFound, Detail: "no such person"}
	}
	var p Person
	if err := getJSON(ctx, r.store, personKey(id, "person.json"), &p); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return nil, &PersonError{ID: id, Reason: PersonNotFound, Detail: "no such person"}
		}
		return nil, err
	}
	if p.ID != id {
		return nil, fmt.Errorf("person %s: stored enrolment names %s", id, p.ID)
	}
	var rm StatusEvent
	switch err := getJSON(ctx, r.store, personKey(id, "removed.json"), &rm); {
	case err == nil:
		p.Removed = &rm
	case !errors.Is(err, archive.ErrNotFound):
		return nil, err
	}
	p.State = PersonActive
	if p.Method == MethodPasskey {
		if err := r.passkeyState(ctx, &p); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// PersonCertificate returns the person's pinned certificate, checked
// against the fingerprint recorded at enrolment.
func (r *Registry) PersonCertificate(ctx context.Context, p *Person) (*smx509.Certificate, error) {
	c, err := getCert(ctx, r.store, personKey(p.ID, "certificate.pem"))
	if err != nil {
		return nil, err
	}
	if sum := sm3.Sum(c.Raw); hex.EncodeToString(sum[:]) != p.CertSM3 {
		return nil, fmt.Errorf("person %s: the stored certificate is not the one enrolled", p.ID)
	}
	return c, nil
}

// Persons lists the persons enrolled for a seal ("" for every seal),
// removed ones included, oldest first (by id within one second).
func (r *Registry) Persons(ctx context.Context, sealID string) ([]*Person, error) {
	var ids []string
	err := r.store.List(ctx, personPrefix, func(o archive.ObjectInfo) error {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, personPrefix), "/person.json"); ok && ValidPersonID(id) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []*Person{}
	for _, id := range ids {
		p, err := r.Person(ctx, id)
		if err != nil {
			return nil, err
		}
		if sealID == "" || p.SealID == sealID {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Enrolled.Equal(out[j].Enrolled) {
			return out[i].Enrolled.Before(out[j].Enrolled)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RemovePerson records a person's removal. It is final: their later
// signatures are refused. Removing a removed person is a PersonError.
func (r *Registry) RemovePerson(ctx context.Context, id, reason, by string) (*Person, error) {
	p, err := r.Person(ctx, id)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(reason) > 512 {
		return nil, &InvalidError{"reason is longer than 512 characters"}
	}
	ev := StatusEvent{Status: "removed", Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}
	if err := putJSON(ctx, r.store, personKey(id, "removed.json"), ev); err != nil {
		if errors.Is(err, archive.ErrExists) {
			return nil, &PersonError{ID: id, Reason: PersonRemoved, Detail: "already removed"}
		}
		return nil, err
	}
	if err := r.logged(ctx, AuditEvent{Action: PersonRemovedA, Subject: id, Actor: by, Details: map[string]string{"seal": p.SealID, "name": p.Name, "reason": reason}},
		personKey(id, "removed.json")); err != nil {
		return nil, err
	}
	p.Removed = &ev
	return p, nil
}

// randomID is n random bytes in lower-case base32, for ids.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
