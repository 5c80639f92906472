// Package archive holds the object store that all of eseal's state lives in:
// signed documents, their records, authorizations and the audit log.
//
// The Store interface is deliberately small (put-if-absent, get, head, list,
// set retention, set legal hold, delete-if-allowed) so that two very
// different backends can implement it with the same meaning: the embedded
// filesystem backend (archive/fs), which enforces retention itself, and the
// S3 backend (archive/s3), which relies on S3 Object Lock in COMPLIANCE mode.
// Both run the conformance suite in archive/storetest.
//
// There is no overwrite: an object is written once with PutIfAbsent and can
// only be deleted once its retention has passed and no legal hold is set.
package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store is an object store with write-once objects, retention and legal hold.
// Implementations are safe for concurrent use, and PutIfAbsent is atomic
// across every process sharing the same storage.
//
// Keys are validated by ValidateKey before any I/O; an invalid key yields a
// *KeyError. A key must not also be the parent of other keys: storing both
// "a" and "a/b" is an error, because MinIO stores both but does not list
// "a/b". The filesystem backend refuses the second put with a *KeyError;
// the S3 backend does not check (it would cost a listing per put), so
// callers' key layouts must keep objects at the leaves.
//
// Retention dates are kept to whole seconds, rounded up.
type Store interface {
	// PutIfAbsent stores the object only if no object with this key exists
	// (ErrExists otherwise, atomically, cluster-wide). size is the exact
	// number of bytes r yields, or -1 if unknown; a reader that yields a
	// different number of bytes stores nothing and returns an error.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (ObjectInfo, error)

	// Get opens the object for reading. It returns ErrNotFound if the
	// object does not exist. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)

	// Head returns the object's information, or ErrNotFound.
	Head(ctx context.Context, key string) (ObjectInfo, error)

	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. It stops at and returns the first error fn
	// returns. The ObjectInfo passed to fn carries Key, Size, VersionID and
	// ModTime only; RetainUntil and LegalHold are left zero (use Head).
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// ListVersions calls fn for every stored version of every object whose
	// key starts with prefix: keys in lexical order, each key's versions
	// newest first. A version Get does not return (an older one, or every
	// version of a key whose latest is a delete marker) has Noncurrent set;
	// delete markers themselves are not listed. A backend without versions
	// (the filesystem) lists what List lists. As with List, RetainUntil and
	// LegalHold are left zero (GetVersion has them).
	ListVersions(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// GetVersion opens one version of the object, as ListVersions names it
	// (an empty versionID is the current version), with its own retention
	// and legal hold. It returns ErrNotFound if there is no such version.
	GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, ObjectInfo, error)

	// SetRetention keeps the object from deletion until the given time.
	// Retention can be extended but never shortened: an earlier date than
	// the current one yields a *LockedError. until must be in the future.
	SetRetention(ctx context.Context, key string, until time.Time) error

	// SetLegalHold sets or clears the object's legal hold. While the hold
	// is on, the object cannot be deleted whatever its retention.
	SetLegalHold(ctx context.Context, key string, on bool) error

	// Delete removes the stored object (on S3: the stored version, by its
	// version id, so no delete marker is left behind). It is refused with a
	// *LockedError while the object is retained or on legal hold, and
	// returns ErrNotFound if there is no such object.
	Delete(ctx context.Context, key string) error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	// Key is the object's key.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// VersionID identifies the stored version on versioned backends (S3);
	// it is empty on the filesystem backend.
	VersionID string
	// ModTime is when the object was stored. It may be zero in the result
	// of PutIfAbsent on backends that do not report it.
	ModTime time.Time
	// RetainUntil is the end of the object's retention; zero if none.
	RetainUntil time.Time
	// LegalHold reports whether a legal hold is set on the object.
	LegalHold bool
	// Noncurrent is set by ListVersions for a version that Get does not
	// return: an older version on a versioned backend.
	Noncurrent bool
}

// ErrNotFound is returned when the object does not exist.
var ErrNotFound = errors.New("archive: object not found")

// ErrUnfinished is a read of an object its commit has decided but not yet
// written (a document whose stamping is still finishing): it will be
// there in a moment, so a reader tries again rather than taking it for
// gone.
var ErrUnfinished = errors.New("archive: committed, not written yet")

// ErrStopListing, returned by a List callback, ends the listing early: it
// has what it needs (List returns it; instruments count it as a success).
var ErrStopListing = errors.New("archive: listing stopped by its reader")

// ErrExists is returned by PutIfAbsent when an object with the key exists.
var ErrExists = errors.New("archive: object already exists")

// ErrTooLarge is returned by GetBytes and PutBytesIfAbsent for objects
// larger than MaxBytes.
var ErrTooLarge = errors.New("archive: object too large to hold in memory")

// LockedError reports an operation refused because the object is retained
// or on legal hold: a delete before retention ends or while held, or an
// attempt to shorten retention.
type LockedError struct {
	// Key is the object's key.
	Key string
	// Until is the end of the object's retention, if known; zero otherwise.
	Until time.Time
	// Hold reports whether a legal hold is set.
	Hold bool
}

// Error says what holds the object.
func (e *LockedError) Error() string {
	switch {
	case e.Hold && !e.Until.IsZero():
		return fmt.Sprintf("archive: object %q is on legal hold and retained until %s", e.Key, e.Until.UTC().Format(time.RFC3339))
	case e.Hold:
		return fmt.Sprintf("archive: object %q is on legal hold", e.Key)
	case !e.Until.IsZero():
		return fmt.Sprintf("archive: object %q is retained until %s", e.Key, e.Until.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("archive: object %q is locked", e.Key)
	}
}
