package seal

// Checking the evidence of an authorization after the fact: fixity reads it
// again and verifies it, and transfer packages carry it (see
// archive/transfer's evidence.go for the layout in a package).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"eseal/archive"
	"eseal/archive/transfer"
	"eseal/keys"
)

// CheckEvidence verifies the stored evidence of an authorization a record
// names, as fixity does: for method sm2 the person's signature over the
// exact grant bytes (read from the store, not from a cache), the
// certificate the very one pinned at the person's enrolment, and the grant
// bytes naming the authorization, seal and case of the stored grant; for
// passkey the assertion over the grant bytes and the credential the very one
// the person enrolled; for api-key the seal maker's signature over the grant. The method and person
// must be those the record names. A grant for one document (document_sm3,
// in the stored grant and in the bytes a person approved) must name the
// input the record says its stamping sealed, when the record's own stamping
// used it. It is an archive.EvidenceCheck.
//
// A verdict — the evidence is missing, does not verify, or does not match —
// is an *EvidenceError; any other error (the store failing) says nothing
// about the evidence.
func (r *Registry) CheckEvidence(ctx context.Context, rec *archive.Record, el archive.AuthorizationElement) error {
	err := r.checkEvidence(ctx, rec, el)
	var (
		f  *evidenceFault
		ae *AuthzError
		pe *PersonError
		ke *PasskeyError
	)
	if err != nil && (errors.As(err, &f) || errors.Is(err, archive.ErrNotFound) || errors.As(err, &ae) || errors.As(err, &pe) || errors.As(err, &ke)) {
		return &EvidenceError{AuthorizationID: el.ID, Err: err}
	}
	return err
}

// EvidenceError is CheckEvidence's verdict that an authorization's
// evidence does not prove what the record says.
type EvidenceError struct {
	AuthorizationID string
	Err             error
}

func (e *EvidenceError) Error() string { return e.Err.Error() }
func (e *EvidenceError) Unwrap() error { return e.Err }

// EvidenceVerdict marks it an archive.EvidenceVerdict.
func (e *EvidenceError) EvidenceVerdict() {}

// evidenceFault is a mismatch CheckEvidence found.
type evidenceFault struct{ msg string }

func (e *evidenceFault) Error() string { return e.msg }

func faultf(format string, args ...any) error { return &evidenceFault{fmt.Sprintf(format, args...)} }

func (r *Registry) checkEvidence(ctx context.Context, rec *archive.Record, el archive.AuthorizationElement) error {
	ev, err := r.Evidence(ctx, el.ID)
	if err != nil {
		return err
	}
	st, err := r.grant(ctx, el.ID)
	if err != nil {
		return err
	}
	if rec != nil && rec.UsedBy(el.ID) {
		if st.DocumentSM3 != "" && st.DocumentSM3 != rec.InputSM3 {
			return faultf("the grant is for the document whose SM3 is %s; the record's stamping sealed %s", st.DocumentSM3, rec.InputSM3)
		}
	}
	method := el.Method
	if method == "" {
		method = string(MethodAPIKey)
	}
	if string(ev.Method) != method {
		return faultf("the record says method %s, the grant %s", method, ev.Method)
	}
	if ev.Method != MethodSM2 && ev.Method != MethodPasskey {
		// Evidence verified the seal maker's signature over the grant when
		// it read it (Registry.grant).
		return nil
	}
	if ev.PersonID != el.PersonID {
		return faultf("the record names person %s, the grant %s", el.PersonID, ev.PersonID)
	}
	p, err := r.Person(ctx, ev.PersonID)
	if err != nil {
		return err
	}
	if ev.Method == MethodPasskey {
		// Evidence verified the assertion over the grant bytes when it read
		// it; what remains is that the key is one the person registered, in
		// force when the grant was approved.
		pk, err := r.passkeyOf(ctx, p, ev.CredentialID)
		var unknown *PasskeyError
		if errors.As(err, &unknown) {
			return faultf("the evidence's passkey is not one registered for person %s", p.ID)
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(pk.cred.PublicKey, ev.CredentialPublicKey) {
			return faultf("the evidence's passkey is not the one registered for person %s under its id", p.ID)
		}
		if err := pk.inForceAt(st.GrantedAt); err != nil {
			return faultf("approved at %s with a passkey of person %s: %v", st.GrantedAt.Format(time.RFC3339), p.ID, err)
		}
		return checkGrantBytes(st, ev.Grant)
	}
	cert, err := ParsePersonCertificate([]byte(ev.Certificate))
	if err != nil {
		return faultf("the evidence's certificate: %v", err)
	}
	if sm3Hex(cert.Raw) != p.CertSM3 {
		return faultf("the evidence's certificate is not the one enrolled for person %s", p.ID)
	}
	return checkGrantBytes(st, ev.Grant)
}

// checkGrantBytes checks that the bytes a person approved name the seal,
// case, request and document of the stored grant st.
func checkGrantBytes(st *Authorization, grant []byte) error {
	g, err := ParseGrant(grant)
	if err != nil {
		return faultf("the approved grant bytes: %v", err)
	}
	if g.SealID != st.SealID || g.CaseNo != st.CaseNo || g.RequestID != st.RequestID || g.DocumentSM3 != st.DocumentSM3 {
		return faultf("the approved grant bytes (seal %s, case %q, request %s, document %q) are not those of the grant (seal %s, case %q, request %s, document %q)",
			g.SealID, g.CaseNo, g.RequestID, g.DocumentSM3, st.SealID, st.CaseNo, st.RequestID, st.DocumentSM3)
	}
	return nil
}

// TransferEvidence returns an authorization's evidence for a transfer
// package (a transfer.EvidenceFunc), verified as Evidence verifies it.
func (r *Registry) TransferEvidence(ctx context.Context, id string) (*transfer.Evidence, error) {
	ev, err := r.Evidence(ctx, id)
	if err != nil {
		return nil, err
	}
	return &transfer.Evidence{Method: string(ev.Method), PersonID: ev.PersonID, PersonName: ev.PersonName, KeyName: ev.KeyName,
		Grant: ev.Grant, Signature: ev.Signature, Certificate: []byte(ev.Certificate),
		AuthenticatorData: ev.AuthenticatorData, ClientDataJSON: ev.ClientDataJSON, CredentialPublicKey: ev.CredentialPublicKey}, nil
}

// VerifyEvidenceSignature checks an SM2 signature over msg with the one PEM
// certificate given, no chain: a transfer.VerifyEvidenceFunc, for checking
// a package's evidence offline.
func VerifyEvidenceSignature(certPEM, msg, sig []byte) error {
	certs, err := keys.ParseCertificatesPEM(certPEM)
	if err != nil {
		return err
	}
	if len(certs) != 1 {
		return fmt.Errorf("want one certificate, found %d", len(certs))
	}
	if !keys.VerifySM2(certs[0].PublicKey, msg, sig) {
		return errors.New("SM2 signature does not verify")
	}
	return nil
}
