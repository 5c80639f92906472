package archive

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/sm3"
)

// ErrAltered is returned by ReadPinned when the object's bytes are not the
// ones its commit recorded: on S3 the pinned version is gone, on the
// filesystem the file was changed behind the store's back.
var ErrAltered = errors.New("archive: object differs from what its commit recorded")

// Pin is what a commit records of an object it stored: the version id
// (empty on the filesystem backend, which has one version per key) and the
// SM3 of the bytes. Reads of archived objects go through it, so a version
// PUT in front of the committed one (S3 versions every PUT, and a retention
// lock does not stop new versions) is never served.
type Pin struct {
	Version string `json:"version,omitempty"`
	SM3     string `json:"sm3"`
}

// PinOf is the pin of bytes b stored as version.
func PinOf(version string, b []byte) Pin {
	sum := sm3.Sum(b)
	return Pin{Version: version, SM3: hex.EncodeToString(sum[:])}
}

// OpenPinned opens the pinned version of key: the version itself where the
// backend has it; else the copy a backup kept of it (VersionKey); else the
// current object — a store restored from a backup gives objects new version
// ids, or none (the filesystem) — whose SM3 the caller checks. A pin
// without a version on a store with versions (an object written after the
// commit that pins it, whose version id nobody could know then) is the
// key's first version: every key under a pin is written once, put-if-absent,
// so a later version is one put around the service.
func OpenPinned(ctx context.Context, s Store, key, version string) (io.ReadCloser, ObjectInfo, error) {
	if version == "" {
		if !Versioned(s) {
			return s.Get(ctx, key)
		}
		var err error
		if version, err = firstVersion(ctx, s, key); err != nil {
			return nil, ObjectInfo{}, err
		}
	}
	rc, info, err := s.GetVersion(ctx, key, version)
	if !errors.Is(err, ErrNotFound) {
		return rc, info, err
	}
	if rc, info, err := s.Get(ctx, VersionKey(key, version)); !errors.Is(err, ErrNotFound) {
		return rc, info, err
	}
	return s.Get(ctx, key)
}

// firstVersion is the id of key's oldest stored version.
func firstVersion(ctx context.Context, s Store, key string) (string, error) {
	first, found := "", false
	err := s.ListVersions(ctx, key, func(o ObjectInfo) error {
		if o.Key == key {
			first, found = o.VersionID, true // newest first: the last one listed is the oldest
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("%s: no version stored: %w", key, ErrNotFound)
	}
	return first, nil
}

// ReadPinned reads the pinned version of key (OpenPinned), at most max
// bytes, and checks its SM3 against the pin: bytes that differ are
// ErrAltered, never returned.
func ReadPinned(ctx context.Context, s Store, key string, pin Pin, max int64) ([]byte, ObjectInfo, error) {
	rc, info, err := OpenPinned(ctx, s, key, pin.Version)
	if err != nil {
		return nil, info, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, max+1))
	if err != nil {
		return nil, info, err
	}
	if n > max {
		return nil, info, fmt.Errorf("%s: more than the %d bytes committed: %w", key, max, ErrAltered)
	}
	if got := PinOf("", buf.Bytes()).SM3; got != pin.SM3 {
		return nil, info, fmt.Errorf("%s: SM3 %s, committed %s: %w", key, got, pin.SM3, ErrAltered)
	}
	return buf.Bytes(), info, nil
}

// ReadDocument reads a committed document's PDF, pinned by its record.
func ReadDocument(ctx context.Context, s Store, rec *Record) ([]byte, ObjectInfo, error) {
	return ReadPinned(ctx, s, DocumentKey(rec.DocumentID), Pin{Version: rec.PDFVersion, SM3: rec.SM3}, rec.Size)
}
