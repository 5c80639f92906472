package ses

import (
	"encoding/asn1"
	"time"
)

// Signature is a parsed electronic seal signature: a GB/T 38540
// SES_Signature (V4) or a GM/T 0031 SES_Signature (V1).
type Signature struct {
	// Version is TBS_Sign.version (4 for GB/T 38540; 1–3 for GM/T 0031).
	Version int
	// Raw is the whole DER of the signature as received.
	Raw []byte
	// Seal is the embedded seal, parsed from its received bytes.
	Seal *Seal
	// TimeInfo is the signing time the signer claims. For V1, whose
	// timeInfo is a BIT STRING, it is zero when the content is not a
	// readable time (the content is then in TimeStamp).
	TimeInfo time.Time
	// DataHash is the digest of the protected data.
	DataHash []byte
	// PropertyInfo describes what the signature protects.
	PropertyInfo string
	// Extensions are TBS_Sign.extDatas, in order (V4 only).
	Extensions []Extension
	// Cert is the signer's certificate (DER).
	Cert []byte
	// SignAlg is the signature algorithm.
	SignAlg asn1.ObjectIdentifier
	// Value is the signature value as found in the BIT STRING.
	Value []byte
	// TimeStamp is the timestamp token over Value (V4), or a V1 timeInfo
	// that is not a readable time, if any.
	TimeStamp []byte
	// SignedBytes is the received DER of toSign, which Value signs.
	SignedBytes []byte
}

// ParseSignature parses a seal signature in DER: a top-level SEQUENCE of 2
// elements is GM/T 0031 (V1), of 4 or 5 is GB/T 38540 (V4). TBS_Sign.extDatas
// and timeStamp are accepted both [0] EXPLICIT and untagged. The embedded
// seal must be of the same generation. No signature is checked.
func ParseSignature(der []byte) (*Signature, error) {
	_, top, err := topSequence(der, "SES_Signature")
	if err != nil {
		return nil, err
	}
	sg := &Signature{Raw: der}
	switch len(top) {
	case 2:
		err = sg.parseV1(top)
	case 4, 5:
		err = sg.parseV4(top)
	default:
		err = malformed("SES_Signature", "%d elements, want 2 (V1) or 4–5 (V4)", len(top))
	}
	if err != nil {
		return nil, err
	}
	return sg, nil
}

func (sg *Signature) parseV4(top []asn1.RawValue) error {
	const f = "toSign"
	tbs, err := sequence(top[0], f)
	if err != nil {
		return err
	}
	if len(tbs) != 5 && len(tbs) != 6 {
		return malformed(f, "%d elements, want 5 or 6", len(tbs))
	}
	if err := sg.parseCommon(tbs, f); err != nil {
		return err
	}
	if sg.Version != 4 {
		return &FormatError{Reason: UnsupportedVersion, Field: f + ".version", Detail: itoa(sg.Version) + " in a V4 layout"}
	}
	if sg.Seal.Version < 4 {
		return &FormatError{Reason: VersionMismatch, Field: f + ".eseal", Detail: "V1 seal in a V4 signature"}
	}
	if sg.TimeInfo, err = timeValue(tbs[2], f+".timeInfo"); err != nil {
		return err
	}
	if len(tbs) == 6 {
		if sg.Extensions, err = parseExtensions(tbs[5], f+".extDatas"); err != nil {
			return err
		}
	}
	sg.SignedBytes = top[0].FullBytes
	if sg.Cert, err = octets(top[1], "cert"); err != nil {
		return err
	}
	if sg.SignAlg, err = oid(top[2], "signatureAlgID"); err != nil {
		return err
	}
	if sg.Value, err = bits(top[3], "signature"); err != nil {
		return err
	}
	if len(top) == 5 {
		if sg.TimeStamp, err = timeStampValue(top[4], "timeStamp"); err != nil {
			return err
		}
	}
	return nil
}

// parseV1 reads GM/T 0031: SES_Signature ::= SEQUENCE { toSign, signature
// BIT STRING }, TBS_Sign ::= SEQUENCE { version, eseal, timeInfo BIT
// STRING, dataHash BIT STRING, propertyInfo IA5String, cert OCTET STRING,
// signatureAlgorithm OBJECT IDENTIFIER }.
func (sg *Signature) parseV1(top []asn1.RawValue) error {
	const f = "toSign"
	tbs, err := sequence(top[0], f)
	if err != nil {
		return err
	}
	if len(tbs) != 7 {
		return malformed(f, "%d elements, want 7", len(tbs))
	}
	if err := sg.parseCommon(tbs, f); err != nil {
		return err
	}
	if sg.Version < 1 || sg.Version > 3 {
		return &FormatError{Reason: UnsupportedVersion, Field: f + ".version", Detail: itoa(sg.Version) + " in a V1 layout"}
	}
	if sg.Seal.Version != 1 {
		return &FormatError{Reason: VersionMismatch, Field: f + ".eseal", Detail: "V4 seal in a V1 signature"}
	}
	// timeInfo is a BIT STRING holding a time string or a timestamp token.
	ti, err := bits(tbs[2], f+".timeInfo")
	if err != nil {
		return err
	}
	if t, ok := timeText(ti); ok {
		sg.TimeInfo = t
	} else {
		sg.TimeStamp = ti
	}
	if sg.Cert, err = octets(tbs[5], f+".cert"); err != nil {
		return err
	}
	if sg.SignAlg, err = oid(tbs[6], f+".signatureAlgorithm"); err != nil {
		return err
	}
	sg.SignedBytes = top[0].FullBytes
	sg.Value, err = bits(top[1], "signature")
	return err
}

// parseCommon reads version, eseal, dataHash and propertyInfo, which sit at
// the same places in both layouts.
func (sg *Signature) parseCommon(tbs []asn1.RawValue, f string) error {
	var err error
	if sg.Version, err = integer(tbs[0], f+".version"); err != nil {
		return err
	}
	if sg.Seal, err = ParseSeal(tbs[1].FullBytes); err != nil {
		return prefixed(f+".eseal", err)
	}
	if sg.DataHash, err = bits(tbs[3], f+".dataHash"); err != nil {
		return err
	}
	sg.PropertyInfo, err = str(tbs[4], f+".propertyInfo")
	return err
}

// Verify checks the signer's SM2 signature over the received toSign with
// the public key of Cert. The embedded seal, the certificate list, the
// chain and the document hash are separate steps (see docs/formats.md, "Verification order").
func (sg *Signature) Verify() error {
	return verifySM2(sg.Cert, sg.SignAlg, sg.SignedBytes, sg.Value)
}
