package keys

import (
	"bytes"
	"encoding/pem"
	"fmt"

	"github.com/emmansun/gmsm/smx509"
)

// ParseCertificatesPEM parses certificates, for example imported from an
// external CA. It accepts PEM (any number of CERTIFICATE blocks; other block
// types, such as keys in a bundle, are skipped) or DER (one certificate or
// several concatenated). A failure is a *CertificateError with Reason
// ReasonMalformed.
func ParseCertificatesPEM(data []byte) ([]*smx509.Certificate, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &CertificateError{Reason: ReasonMalformed, Detail: "no certificate data"}
	}
	if !bytes.Contains(trimmed, []byte("-----BEGIN")) {
		certs, err := smx509.ParseCertificates(data)
		if err != nil {
			return nil, &CertificateError{Reason: ReasonMalformed, Detail: "DER", Err: err}
		}
		if len(certs) == 0 {
			return nil, &CertificateError{Reason: ReasonMalformed, Detail: "no certificate found"}
		}
		return certs, nil
	}
	var certs []*smx509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := smx509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &CertificateError{Reason: ReasonMalformed, Detail: fmt.Sprintf("PEM block %d", n), Err: err}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &CertificateError{Reason: ReasonMalformed, Detail: "no CERTIFICATE PEM block found"}
	}
	return certs, nil
}

// EncodeCertificatesPEM returns the certificates as consecutive PEM
// CERTIFICATE blocks, in the order given.
func EncodeCertificatesPEM(certs ...*smx509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		// Encoding to a bytes.Buffer cannot fail for a block without headers.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
