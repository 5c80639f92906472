// Package ses reads, checks and writes the electronic-seal structures of
// GB/T 38540-2020 ("V4": SESeal and SES_Signature) and reads those of the
// older GM/T 0031-2014 ("V1").
//
// Parsing keeps the bytes exactly as received: signatures are always checked
// over the received DER of eSealInfo or toSign, never over a re-encoding.
// The parsers are lenient where real implementations disagree (string types,
// UTCTime or GeneralizedTime, [0] EXPLICIT or untagged extDatas and
// timeStamp, BIT STRING or OCTET STRING for hashes) and strict about
// lengths, structure and trailing data. Every failure is one of the error
// types of this package ([FormatError], [SignatureError], [ValidityError],
// [SpecError]) so callers can branch on the reason.
//
// Builders emit V4 only: header "ES", version 4, GeneralizedTime dates in
// UTC without fractions, certListType 1 and SM2-with-SM3
// (1.2.156.10197.1.501) with the default SM2 user id 1234567812345678.
//
// This package checks the format and the signatures; certificate chains,
// revocation and the seal registry are the caller's job (see the
// verification order in docs/formats.md).
package ses
