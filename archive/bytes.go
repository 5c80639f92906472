package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// MaxBytes is the largest object GetBytes and PutBytesIfAbsent handle:
// records, authorizations and audit entries, not signed documents, which
// are streamed.
const MaxBytes = 16 << 20

// PutBytesIfAbsent stores b under key if no object with that key exists.
// It returns ErrTooLarge if b is longer than MaxBytes.
func PutBytesIfAbsent(ctx context.Context, s Store, key string, b []byte) (ObjectInfo, error) {
	if len(b) > MaxBytes {
		return ObjectInfo{}, fmt.Errorf("put %q (%d bytes): %w", key, len(b), ErrTooLarge)
	}
	return s.PutIfAbsent(ctx, key, bytes.NewReader(b), int64(len(b)))
}

// GetBytes reads a whole object into memory. It returns ErrTooLarge,
// without reading the content, if the object is longer than MaxBytes.
func GetBytes(ctx context.Context, s Store, key string) ([]byte, ObjectInfo, error) {
	return GetBytesMax(ctx, s, key, MaxBytes)
}

// GetBytesMax is GetBytes for objects of at most limit bytes (at most
// MaxBytes): a longer one is ErrTooLarge, its content never read. One
// request: the size comes with the object, not from a Head before it.
func GetBytesMax(ctx context.Context, s Store, key string, limit int64) ([]byte, ObjectInfo, error) {
	rc, info, err := s.Get(ctx, key)
	return readMax(rc, info, err, key, limit)
}

// GetVersionBytesMax is GetBytesMax of one version of the object, as
// ListVersions names it; the information returned is that version's, its
// retention with it.
func GetVersionBytesMax(ctx context.Context, s Store, key, version string, limit int64) ([]byte, ObjectInfo, error) {
	rc, info, err := s.GetVersion(ctx, key, version)
	return readMax(rc, info, err, key, limit)
}

// readMax reads an opened object of at most limit bytes (at most MaxBytes).
func readMax(rc io.ReadCloser, info ObjectInfo, err error, key string, limit int64) ([]byte, ObjectInfo, error) {
	if err != nil {
		return nil, info, err
	}
	defer rc.Close()
	limit = min(limit, MaxBytes)
	if info.Size > limit {
		return nil, info, fmt.Errorf("get %q (%d bytes, more than the %d expected): %w", key, info.Size, limit, ErrTooLarge)
	}
	// Sized from the start: io.ReadAll would grow its buffer from 512 bytes.
	buf := bytes.NewBuffer(make([]byte, 0, max(info.Size, 0)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(rc, limit+1)); err != nil {
		return nil, info, fmt.Errorf("archive: read %q: %w", key, err)
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return nil, info, fmt.Errorf("get %q: %w", key, ErrTooLarge)
	}
	if int64(len(b)) != info.Size {
		return nil, info, fmt.Errorf("archive: read %q: got %d bytes, object has %d", key, len(b), info.Size)
	}
	return b, info, nil
}
