package ses

import (
	"crypto"
	"encoding/asn1"
	"time"
)

// SealSpec describes a V4 seal to build.
type SealSpec struct {
	// ESID is the unique seal code (ASCII).
	ESID string
	// Vid identifies the vendor (ASCII).
	Vid string
	// Type is the business-defined seal type.
	Type int
	// Name is the seal's name.
	Name string
	// SignerCerts are the certificates (DER) allowed to sign with the seal.
	SignerCerts [][]byte
	// CreateDate, ValidStart and ValidEnd are written in UTC to the second.
	CreateDate, ValidStart, ValidEnd time.Time
	// Picture is the seal image.
	Picture Picture
	// Extensions are written as extDatas when not empty.
	Extensions []Extension
}

// SignatureSpec describes a V4 seal signature to build.
type SignatureSpec struct {
	// SealDER is the seal (V4 or V5) the signature uses, embedded as is.
	SealDER []byte
	// TimeInfo is the signing time, written in UTC to the second.
	TimeInfo time.Time
	// DataHash is the digest of the protected data (SM3 for eseal).
	DataHash []byte
	// PropertyInfo says what is protected (ASCII), e.g.
	// "PDF;ByteRange=a,b,c,d;hash=SM3".
	PropertyInfo string
	// TimeStamp, when set, is called with the signature value (the DER
	// SEQUENCE {r, s}) once it is made and returns an RFC 3161 token over
	// it (SM3 imprint), written as timeStamp [0] EXPLICIT BIT STRING; a nil
	// token writes none.
	TimeStamp func(signature []byte) ([]byte, error)
}

type headerASN1 struct {
	ID      string `asn1:"ia5"`
	Version int
	Vid     string `asn1:"ia5"`
}

type propertyASN1 struct {
	Type         int
	Name         string `asn1:"utf8"`
	CertListType int
	CertList     [][]byte
	CreateDate   time.Time `asn1:"generalized"`
	ValidStart   time.Time `asn1:"generalized"`
	ValidEnd     time.Time `asn1:"generalized"`
}

type pictureASN1 struct {
	Type          string `asn1:"ia5"`
	Data          []byte
	Width, Height int
}

type extDataASN1 struct {
	ID       asn1.ObjectIdentifier
	Critical bool `asn1:"optional"` // DEFAULT FALSE: omitted when false
	Value    []byte
}

type sealInfoASN1 struct {
	Header   headerASN1
	ESID     string `asn1:"ia5"`
	Property propertyASN1
	Picture  pictureASN1
	ExtDatas []extDataASN1 `asn1:"omitempty"`
}

type sealASN1 struct {
	SealInfo    asn1.RawValue
	Cert        []byte
	SignAlg     asn1.ObjectIdentifier
	SignedValue asn1.BitString
}

type tbsSignASN1 struct {
	Version      int
	ESeal        asn1.RawValue
	TimeInfo     time.Time `asn1:"generalized"`
	DataHash     asn1.BitString
	PropertyInfo string `asn1:"ia5"`
}

type signatureASN1 struct {
	ToSign    asn1.RawValue
	Cert      []byte
	SignAlg   asn1.ObjectIdentifier
	Signature asn1.BitString
	TimeStamp asn1.BitString `asn1:"optional,explicit,tag:0"`
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// gtime makes t encodable as YYYYMMDDHHMMSSZ.
func gtime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func (spec *SealSpec) check() error {
	switch {
	case spec.ESID == "" || !isASCII(spec.ESID):
		return &SpecError{Field: "ESID", Reason: "must be non-empty ASCII"}
	case !isASCII(spec.Vid):
		return &SpecError{Field: "Vid", Reason: "must be ASCII"}
	case spec.Name == "":
		return &SpecError{Field: "Name", Reason: "must not be empty"}
	case len(spec.SignerCerts) == 0:
		return &SpecError{Field: "SignerCerts", Reason: "at least one certificate is needed"}
	case spec.ValidStart.IsZero() || spec.ValidEnd.IsZero() || spec.CreateDate.IsZero():
		return &SpecError{Field: "CreateDate/ValidStart/ValidEnd", Reason: "must be set"}
	case gtime(spec.ValidEnd).Before(gtime(spec.ValidStart)):
		return &SpecError{Field: "ValidEnd", Reason: "before ValidStart"}
	case spec.Picture.Type == "" || !isASCII(spec.Picture.Type):
		return &SpecError{Field: "Picture.Type", Reason: "must be non-empty ASCII"}
	case len(spec.Picture.Data) == 0:
		return &SpecError{Field: "Picture.Data", Reason: "must not be empty"}
	case spec.Picture.WidthMM <= 0 || spec.Picture.HeightMM <= 0:
		return &SpecError{Field: "Picture.WidthMM/HeightMM", Reason: "must be positive"}
	}
	for i, c := range spec.SignerCerts {
		if len(c) == 0 {
			return &SpecError{Field: "SignerCerts[" + itoa(i) + "]", Reason: "empty"}
		}
	}
	for i, e := range spec.Extensions {
		if len(e.ID) < 2 {
			return &SpecError{Field: "Extensions[" + itoa(i) + "].ID", Reason: "not an object identifier"}
		}
	}
	return nil
}

// BuildSeal makes the DER of a GB/T 38540 V4 SESeal from spec, signed by
// the seal maker with SM2-with-SM3 (default user id) over DER(eSealInfo).
// maker must be the key of makerCertDER; an *sm2.PrivateKey or any
// crypto.Signer that honours sm2.SM2SignerOption (the message is passed
// whole, not as a digest).
func BuildSeal(spec SealSpec, maker crypto.Signer, makerCertDER []byte) ([]byte, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	info := sealInfoASN1{
		Header: headerASN1{ID: "ES", Version: 4, Vid: spec.Vid},
		ESID:   spec.ESID,
		Property: propertyASN1{
			Type:         spec.Type,
			Name:         spec.Name,
			CertListType: CertListCerts,
			CertList:     spec.SignerCerts,
			CreateDate:   gtime(spec.CreateDate),
			ValidStart:   gtime(spec.ValidStart),
			ValidEnd:     gtime(spec.ValidEnd),
		},
		Picture: pictureASN1{Type: spec.Picture.Type, Data: spec.Picture.Data, Width: spec.Picture.WidthMM, Height: spec.Picture.HeightMM},
	}
	for _, e := range spec.Extensions {
		info.ExtDatas = append(info.ExtDatas, extDataASN1(e))
	}
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		return nil, &SpecError{Field: "SealSpec", Reason: err.Error()}
	}
	sig, err := signSM2(maker, makerCertDER, infoDER)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(sealASN1{
		SealInfo:    asn1.RawValue{FullBytes: infoDER},
		Cert:        makerCertDER,
		SignAlg:     OIDSM2WithSM3,
		SignedValue: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
}

// BuildSignature makes the DER of a GB/T 38540 V4 SES_Signature (version 4,
// no extDatas, no timestamp) over spec, signed with SM2-with-SM3 (default
// user id) over DER(toSign). signer must be the key of certDER. The seal is
// embedded byte for byte and must parse as a V4 or V5 seal.
func BuildSignature(spec SignatureSpec, signer crypto.Signer, certDER []byte) ([]byte, error) {
	seal, err := ParseSeal(spec.SealDER)
	if err != nil {
		return nil, err
	}
	switch {
	case seal.Version < 4:
		return nil, &SpecError{Field: "SealDER", Reason: "a V4 signature needs a V4 or V5 seal"}
	case spec.TimeInfo.IsZero():
		return nil, &SpecError{Field: "TimeInfo", Reason: "must be set"}
	case len(spec.DataHash) == 0:
		return nil, &SpecError{Field: "DataHash", Reason: "must not be empty"}
	case spec.PropertyInfo == "" || !isASCII(spec.PropertyInfo):
		return nil, &SpecError{Field: "PropertyInfo", Reason: "must be non-empty ASCII"}
	}
	tbs, err := asn1.Marshal(tbsSignASN1{
		Version:      4,
		ESeal:        asn1.RawValue{FullBytes: spec.SealDER},
		TimeInfo:     gtime(spec.TimeInfo),
		DataHash:     asn1.BitString{Bytes: spec.DataHash, BitLength: 8 * len(spec.DataHash)},
		PropertyInfo: spec.PropertyInfo,
	})
	if err != nil {
		return nil, &SpecError{Field: "SignatureSpec", Reason: err.Error()}
	}
	sig, err := signSM2(signer, certDER, tbs)
	if err != nil {
		return nil, err
	}
	out := signatureASN1{
		ToSign:    asn1.RawValue{FullBytes: tbs},
		Cert:      certDER,
		SignAlg:   OIDSM2WithSM3,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	}
	if spec.TimeStamp != nil {
		token, err := spec.TimeStamp(sig)
		if err != nil {
			return nil, err
		}
		if token != nil {
			out.TimeStamp = asn1.BitString{Bytes: token, BitLength: 8 * len(token)}
		}
	}
	return asn1.Marshal(out)
}
