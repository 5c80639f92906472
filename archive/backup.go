package archive

// Backup and restore: a copy of every stored object, with its retention and
// legal hold, from one Store to another of either backend.
//
// A copy is made through the Store interface only, so it moves bytes and
// nothing else: wrapped keys stay wrapped, records and the audit log are the
// same objects, and no key-encryption key is needed to make or restore one.
// Every version a backend keeps is copied. The first version of a key goes
// to the same key: the service writes every key once, put-if-absent, so the
// first version is the one it wrote (and the one a pin without version id
// names, OpenPinned). A later one (S3 keeps each version, and a PUT made
// around the service can put a foreign version in front of a committed one)
// goes to VersionKey(key, version id), an object of its own, so that no
// backend has to write versions and the evidence survives a move to the
// filesystem. Before 2026-12-02 the current version went to the key; a
// backup made then, of a store with a foreign version, is read through the
// version ids its records pin.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// VersionsPrefix holds, in a copy, the versions that were not current in
// the source: VersionKey(key, id) for each.
const VersionsPrefix = "versions/"

// restoringKey marks a store that a restore is filling: a cut-short restore
// may continue into it, though it is no longer empty.
const restoringKey = "restore/in-progress.json"

// VersionKey is where a copy keeps an older version of key.
func VersionKey(key, versionID string) string {
	seg := versionID
	if validateSegment(key, seg) != nil {
		seg = "x" + hex.EncodeToString([]byte(versionID))
	}
	return VersionsPrefix + key + "/" + seg
}

// CopyOptions tunes Backup and Restore.
type CopyOptions struct {
	// Progress, if set, is told how many of the listed versions are done.
	Progress func(done, total int)
	// Workers is how many objects are copied at once; default 4.
	Workers int
	// Now is the clock against which retention is judged; default time.Now.
	Now func() time.Time
}

// CopyReport says what a Backup or Restore did.
type CopyReport struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Versions is how many object versions the source listed.
	Versions int `json:"versions"`
	// Copied were written; Present were already there, byte for byte.
	Copied  int   `json:"copied"`
	Present int   `json:"present"`
	Bytes   int64 `json:"bytes"`
	// Retained and Held count the retention dates and legal holds applied
	// to the destination.
	Retained int `json:"retained"`
	Held     int `json:"held"`
	// Vanished were listed but gone before they could be read (retention
	// ended and the object was disposed of meanwhile).
	Vanished int `json:"vanished"`
	// Conflicts are destination objects that differ from the source: left
	// alone and reported.
	Conflicts []CopyConflict `json:"conflicts"`
}

// OK reports whether every version is in the destination as in the source.
func (r *CopyReport) OK() bool { return len(r.Conflicts) == 0 }

// CopyConflict is a destination object that differs from its source.
type CopyConflict struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// NotEmptyError refuses a restore into a store that holds objects.
type NotEmptyError struct {
	// Key is an object found there.
	Key string
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("archive: the store to restore into is not empty (it holds %q): restore rebuilds an empty store only", e.Key)
}

// ErrEmptySource refuses a restore from a store holding nothing.
var ErrEmptySource = errors.New("archive: the backup to restore from holds no objects")

// Backup copies every version of every object in from, with its retention
// and legal hold, into to. It can be run again: what is already there and
// identical is skipped, so an interrupted backup resumes, and a later one
// adds what is new and extends retention that was extended. An object in to
// that differs from its source is left alone and reported as a conflict.
func Backup(ctx context.Context, from, to Store, opts CopyOptions) (*CopyReport, error) {
	return copyStore(ctx, from, to, opts)
}

// Restore rebuilds the empty store to from a backup, re-applying retention
// and legal holds. It refuses a store that holds anything (NotEmptyError),
// unless what it holds is a restore cut short, which it continues.
func Restore(ctx context.Context, from, to Store, opts CopyOptions) (*CopyReport, error) {
	if _, err := to.Head(ctx, restoringKey); errors.Is(err, ErrNotFound) {
		if err := firstObject(ctx, to); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if err := hasObjects(ctx, from); err != nil {
		return nil, err
	}
	marker := fmt.Sprintf(`{"started":%q}`, time.Now().UTC().Format(time.RFC3339))
	if _, err := PutBytesIfAbsent(ctx, to, restoringKey, []byte(marker)); err != nil && !errors.Is(err, ErrExists) {
		return nil, err
	}
	rep, err := copyStore(ctx, from, to, opts)
	if err != nil {
		return rep, err
	}
	if err := to.Delete(ctx, restoringKey); err != nil {
		return rep, fmt.Errorf("restore done, but its marker stays: %w", err)
	}
	return rep, nil
}

// hasObjects returns ErrEmptySource for a store without objects.
func hasObjects(ctx context.Context, s Store) error {
	err := firstObject(ctx, s)
	var ne *NotEmptyError
	switch {
	case errors.As(err, &ne):
		return nil
	case err == nil:
		return ErrEmptySource
	}
	return err
}

// firstObject returns a *NotEmptyError naming the store's first object, nil
// for an empty store.
func firstObject(ctx context.Context, s Store) error {
	var ne *NotEmptyError
	err := s.List(ctx, "", func(o ObjectInfo) error {
		ne = &NotEmptyError{Key: o.Key}
		return ne
	})
	return err
}

func copyStore(ctx context.Context, from, to Store, opts CopyOptions) (*CopyReport, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rep := &CopyReport{Started: opts.Now().UTC(), Conflicts: []CopyConflict{}}
	var versions []ObjectInfo
	if err := from.ListVersions(ctx, "", func(o ObjectInfo) error {
		if o.Key != restoringKey {
			versions = append(versions, o)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Versions come newest first for each key: the last one listed is the
	// key's first, which keeps the key in the copy.
	later := make([]bool, len(versions))
	for i := range versions {
		later[i] = i+1 < len(versions) && versions[i+1].Key == versions[i].Key
	}
	rep.Versions = len(versions)
	if opts.Progress != nil {
		opts.Progress(0, len(versions))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range opts.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(versions) || ctx.Err() != nil {
					return
				}
				res, err := copyVersion(ctx, from, to, versions[i], later[i], opts.Now())
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				rep.add(res)
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(versions))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rep.Finished = opts.Now().UTC()
	return rep, firstErr
}

// copied is what copyVersion did with one version.
type copied struct {
	copied, present, vanished bool
	bytes                     int64
	retained, held            bool
	conflict                  *CopyConflict
}

func (r *CopyReport) add(c copied) {
	switch {
	case c.copied:
		r.Copied++
		r.Bytes += c.bytes
	case c.present:
		r.Present++
	case c.vanished:
		r.Vanished++
	}
	if c.retained {
		r.Retained++
	}
	if c.held {
		r.Held++
	}
	if c.conflict != nil {
		r.Conflicts = append(r.Conflicts, *c.conflict)
	}
}

// copyVersion copies one version unless it is there already — to its key,
// or if it came later than the key's first, to VersionKey — then brings
// the destination's retention and hold up to the source's: retention is
// only ever extended, and one that has ended is not copied.
func copyVersion(ctx context.Context, from, to Store, v ObjectInfo, later bool, now time.Time) (copied, error) {
	var res copied
	key := v.Key
	if later {
		key = VersionKey(v.Key, v.VersionID)
	}
	rc, src, err := from.GetVersion(ctx, v.Key, v.VersionID)
	if errors.Is(err, ErrNotFound) {
		res.vanished = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer rc.Close()
	dst, err := to.Head(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := to.PutIfAbsent(ctx, key, rc, src.Size); err != nil {
			return res, fmt.Errorf("copy %q: %w", key, err)
		}
		res.copied, res.bytes = true, src.Size
		dst = ObjectInfo{Key: key}
	case err != nil:
		return res, err
	default:
		same, err := sameContent(ctx, rc, src.Size, to, key, dst.Size)
		if err != nil {
			return res, err
		}
		if !same {
			res.conflict = &CopyConflict{Key: key, Reason: "the destination holds different bytes under this key"}
			return res, nil
		}
		res.present = true
	}
	// A retention ending within the second may have ended by the time the
	// destination checks it; it protects nothing worth the error.
	if src.RetainUntil.After(now.Add(time.Second)) && dst.RetainUntil.Before(src.RetainUntil) {
		if err := to.SetRetention(ctx, key, src.RetainUntil); err != nil {
			return res, fmt.Errorf("retention of %q: %w", key, err)
		}
		res.retained = true
	}
	if src.LegalHold != dst.LegalHold {
		if err := to.SetLegalHold(ctx, key, src.LegalHold); err != nil {
			return res, fmt.Errorf("legal hold of %q: %w", key, err)
		}
		res.held = src.LegalHold
	}
	return res, nil
}

// sameContent compares the source's bytes with the destination object's.
func sameContent(ctx context.Context, src io.Reader, srcSize int64, to Store, key string, dstSize int64) (bool, error) {
	if srcSize != dstSize {
		return false, nil
	}
	a := sha256.New()
	if _, err := io.Copy(a, src); err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	rc, _, err := to.Get(ctx, key)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	b := sha256.New()
	if _, err := io.Copy(b, rc); err != nil {
		return false, fmt.Errorf("read %q in the destination: %w", key, err)
	}
	return bytes.Equal(a.Sum(nil), b.Sum(nil)), nil
}
