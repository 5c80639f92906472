package seal

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"

	"eseal/archive"
)

// Idempotency: a retried request with the same Idempotency-Key returns the
// document the first one made, not a second stamping. idem/<sha256 of the
// key>.json names the document once its stamping finished; before that the
// authorization's use marker, which carries the same hash, does.

// idemPrefix holds the idempotency markers.
const idemPrefix = "idem/"

// IdempotencyError says an Idempotency-Key was reused for a different request.
type IdempotencyError struct{ Reason string }

func (e *IdempotencyError) Error() string { return "Idempotency-Key: " + e.Reason }

// fingerprint is the SM3 of what a stamp request asks for — every field
// but its Idempotency-Key, and the SM3 of its PDF — in hex. The key is
// bound to it: a retry is the same request, and the same key with another
// request is refused, not answered with the first one's document.
func (req *StampRequest) fingerprint() string {
	c := *req
	c.IdempotencyKey, c.PDF = "", nil
	b, err := json.Marshal(c)
	if err != nil {
		panic("seal: a stamp request does not marshal: " + err.Error()) // plain data: cannot happen
	}
	pdfSum := sm3.Sum(req.PDF)
	h := sm3.New()
	h.Write(b)
	h.Write(pdfSum[:])
	return hex.EncodeToString(h.Sum(nil))
}

// replay finds the document an earlier request with the same idempotency key
// made, through the idempotency marker or through the authorization's use
// markers (the marker may not be written yet if that request is still
// finishing). An earlier request that asked for something else (another
// fingerprint) is an IdempotencyError. Nothing to replay is (nil, st, nil),
// st the authorization as it was read to find out (nil when it could not
// be read), for the check that follows (Service.authorize).
func (s *Service) replay(ctx context.Context, idemKey, authzID, fingerprint string) (*Stamped, *AuthorizationState, error) {
	idem := hashHex(idemKey)
	var ce codeEntry
	err := getJSON(ctx, s.Store, idemPrefix+idem+".json", &ce)
	if err != nil && !errors.Is(err, archive.ErrNotFound) {
		return nil, nil, err
	}
	var use *AuthorizationUse
	var st *AuthorizationState
	if ValidAuthorizationID(authzID) {
		var aerr error
		if st, aerr = s.Registry.Authorization(ctx, authzID); aerr == nil {
			for i, u := range st.Uses {
				if u.IdempotencyKey == idem {
					use = &st.Uses[i]
				}
			}
		}
	}
	switch {
	case use == nil && ce.DocumentID == "":
		return nil, st, nil
	case use == nil:
		return nil, nil, &IdempotencyError{"already used for a request with another authorization"}
	case use.RequestSM3 != "" && use.RequestSM3 != fingerprint:
		return nil, nil, &IdempotencyError{fmt.Sprintf("already used for another request (document %s was made from a request with SM3 %s; this one has %s): send a new key for a new request", use.DocumentID, use.RequestSM3, fingerprint)}
	}
	rec, err := s.replayedRecord(ctx, use)
	if err != nil {
		return nil, nil, err
	}
	code, err := openCode(idemKey, use.SealedCode)
	if err != nil {
		return nil, nil, err
	}
	return &Stamped{DocumentID: rec.DocumentID, RetrievalCode: code, Record: rec, Replayed: true}, nil, nil
}

// replayedRecord is the record of the document an earlier request's use
// names, pinned as its use marker pins it. The earlier request may be
// committed and not yet finished (still under way, or cut short and
// waiting for the sweep): then its record is still only in its staging
// object, and is read from there, checked against the same pin.
func (s *Service) replayedRecord(ctx context.Context, use *AuthorizationUse) (*archive.Record, error) {
	rec, err := s.Documents().PinnedRecord(ctx, use.DocumentID, use.Record)
	if !errors.Is(err, archive.ErrNotFound) {
		return rec, err
	}
	p, staged, serr := s.readPending(ctx, stagingKey(use.DocumentID), true)
	if errors.Is(serr, archive.ErrNotFound) {
		// Finished meanwhile: the record is stored now.
		return s.Documents().PinnedRecord(ctx, use.DocumentID, use.Record)
	}
	if serr != nil {
		return nil, serr
	}
	rec, b, err := stagedRecord(p.DocumentID, staged)
	if err != nil {
		return nil, err
	}
	if use.Record != nil && archive.PinOf("", b).SM3 != use.Record.SM3 {
		return nil, fmt.Errorf("staged record of %s: not the one its use pins: %w", use.DocumentID, archive.ErrAltered)
	}
	return rec, nil
}

// sealCode encrypts a retrieval code (SM4-GCM) under a key derived from the
// Idempotency-Key; the store never holds the code in clear.
func sealCode(idemKey, code string) ([]byte, error) {
	aead, err := codeAEAD(idemKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, []byte(code), nil), nil
}

func openCode(idemKey string, sealed []byte) (string, error) {
	aead, err := codeAEAD(idemKey)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed retrieval code is truncated")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("sealed retrieval code: %w", err)
	}
	return string(plain), nil
}

func codeAEAD(idemKey string) (cipher.AEAD, error) {
	k := sm3.Sum([]byte("eseal retrieval code\x00" + idemKey))
	block, err := sm4.NewCipher(k[:16])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
