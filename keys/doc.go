// Package keys holds eseal's key material and PKI: SM2 key generation and
// message signing with the default user id, wrapping of private keys at rest
// under a key-encryption key (SM4-GCM), the organisation certificate
// authority (root, intermediates, seal-maker, signer and TSA certificates,
// CRLs), import and export of certificates, and a trust store that validates
// certificate chains at a given time, with key usage and revocation checks.
//
// All signatures are SM2 with SM3 over SM3(Z‖M), Z computed with the default
// user id "1234567812345678", which is what every interoperable SM2
// implementation expects. Signers are crypto.Signer values so that a
// hardware signer can replace an in-memory *sm2.PrivateKey; see SignSM2 for
// the contract such a signer must meet.
//
// Errors are typed and carry a reason: *CertificateError, *CRLError,
// *KEKError, *UnwrapError and *RequestError.
package keys
