package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The durable path of a stamping hands the store its writes one phase at a
// time — what it stages, what it locks once committed — and the store
// decides how to make them: the writes of one batch are independent, so
// they go out at once (a bounded number in flight), and an object that is
// final when it is written carries its retention in the put itself where
// the backend allows it (RetainingStore), which saves a round trip and a
// second durable write per object.

// RetainingStore is a Store that can lock an object in the same write that
// stores it: S3 sends the Object Lock headers with the PUT; the filesystem
// writes the lock sidecar beside the object before the one directory fsync
// that makes both durable.
type RetainingStore interface {
	Store
	// PutRetained is PutIfAbsent for an object retained until until from
	// the moment it exists. If the object was stored but could not be
	// locked, the error wraps ErrStoredUnlocked.
	PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (ObjectInfo, error)
}

// ErrStoredUnlocked reports a put with retention whose object was stored
// but not locked: the caller locks it with SetRetention, or leaves it to a
// later sweep that does.
var ErrStoredUnlocked = errors.New("archive: object stored but not retention-locked")

// PutRetained stores b under key, locked until until, if no object with
// that key exists: in one write where the store can (RetainingStore), else
// PutIfAbsent then SetRetention.
func PutRetained(ctx context.Context, s Store, key string, b []byte, until time.Time) (ObjectInfo, error) {
	if len(b) > MaxBytes {
		return ObjectInfo{}, fmt.Errorf("put %q (%d bytes): %w", key, len(b), ErrTooLarge)
	}
	if rs, ok := s.(RetainingStore); ok {
		return rs.PutRetained(ctx, key, bytes.NewReader(b), int64(len(b)), until)
	}
	info, err := s.PutIfAbsent(ctx, key, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return info, err
	}
	if err := s.SetRetention(ctx, key, until); err != nil {
		return info, fmt.Errorf("%w: %s: %w", ErrStoredUnlocked, key, err)
	}
	info.RetainUntil = until
	return info, nil
}

// Versioned reports whether s keeps versions of objects, whose ids pin what
// a commit stored (S3 does). On a store without (the filesystem: one object
// per key, a version id always empty) a write that pins an object need not
// wait for that object's put. A store that does not say is taken as
// versioned.
func Versioned(s Store) bool {
	v, ok := s.(interface{ Versioned() bool })
	return !ok || v.Versioned()
}

// Put is one object of a Batch.
type Put struct {
	Key  string
	Data []byte
	// RetainUntil, when set, locks the object from the moment it exists.
	RetainUntil time.Time
	// Existing accepts an object already under Key whose bytes are Data (a
	// resumed phase, or a put whose answer was lost, wrote it before): it
	// is locked until RetainUntil if it is not yet, and its information is
	// returned instead of ErrExists. One with other bytes is ErrAltered:
	// what the caller meant to store is not there.
	Existing bool
}

// Lock is one retention lock of a Batch, on an object stored before.
type Lock struct {
	Key   string
	Until time.Time
}

// Batch is the writes of one phase of a stamping: they do not depend on
// each other, so they are made concurrently, in any order.
type Batch struct {
	Puts  []Put
	Locks []Lock
	// Also are further writes of the phase that are not a plain put or lock
	// (a reference-number claim), run beside the others.
	Also []func(context.Context) error
}

// MaxConcurrentWrites bounds the writes of one batch in flight at once.
const MaxConcurrentWrites = 8

// Write makes every write of the batch and returns the puts' information,
// index for index with b.Puts. Every write is attempted; the error joins
// those that failed, each naming its key.
func (b Batch) Write(ctx context.Context, s Store) ([]ObjectInfo, error) {
	infos := make([]ObjectInfo, len(b.Puts))
	var jobs []func() error
	for i, p := range b.Puts {
		jobs = append(jobs, func() error {
			var err error
			infos[i], err = put(ctx, s, p)
			return err
		})
	}
	for _, l := range b.Locks {
		jobs = append(jobs, func() error { return s.SetRetention(ctx, l.Key, l.Until) })
	}
	for _, f := range b.Also {
		jobs = append(jobs, func() error { return f(ctx) })
	}
	return infos, concurrently(jobs)
}

// PutLocked stores b under key, locked until until, if no object with that
// key exists, as a put of a Batch does: in one write where the store can,
// and an object stored but not locked by that write is locked after it; a
// zero until stores it unlocked. It returns ErrExists if the key is taken.
func PutLocked(ctx context.Context, s Store, key string, b []byte, until time.Time) (ObjectInfo, error) {
	return put(ctx, s, Put{Key: key, Data: b, RetainUntil: until})
}

func put(ctx context.Context, s Store, p Put) (ObjectInfo, error) {
	var info ObjectInfo
	var err error
	switch {
	case !p.RetainUntil.IsZero() && len(p.Data) <= MaxBytes:
		info, err = PutRetained(ctx, s, p.Key, p.Data, p.RetainUntil)
		if errors.Is(err, ErrStoredUnlocked) {
			err = s.SetRetention(ctx, p.Key, p.RetainUntil)
		}
	default:
		info, err = s.PutIfAbsent(ctx, p.Key, bytes.NewReader(p.Data), int64(len(p.Data)))
		if err == nil && !p.RetainUntil.IsZero() {
			err = s.SetRetention(ctx, p.Key, p.RetainUntil)
		}
	}
	if errors.Is(err, ErrExists) && p.Existing {
		if info, err = sameBytes(ctx, s, p.Key, p.Data); err == nil && !p.RetainUntil.IsZero() && info.RetainUntil.Before(ceilSecond(p.RetainUntil)) {
			err = s.SetRetention(ctx, p.Key, p.RetainUntil)
		}
	}
	return info, err
}

// sameBytes reads the object under key — its first version, the one a
// put-if-absent stored (OpenPinned) — and returns its information if its
// bytes are data, else ErrAltered.
func sameBytes(ctx context.Context, s Store, key string, data []byte) (ObjectInfo, error) {
	rc, info, err := OpenPinned(ctx, s, key, "")
	if err != nil {
		return info, err
	}
	defer rc.Close()
	if info.Size != int64(len(data)) {
		return info, fmt.Errorf("%s: %d bytes stored, %d to store: %w", key, info.Size, len(data), ErrAltered)
	}
	buf := make([]byte, min(len(data), 1<<20))
	for rest := data; len(rest) > 0; {
		n, err := io.ReadFull(rc, buf[:min(len(buf), len(rest))])
		if err != nil {
			return info, fmt.Errorf("%s: %w", key, err)
		}
		if !bytes.Equal(buf[:n], rest[:n]) {
			return info, fmt.Errorf("%s: other bytes stored: %w", key, ErrAltered)
		}
		rest = rest[n:]
	}
	return info, nil
}

// concurrently runs the jobs, at most MaxConcurrentWrites at once, and
// joins their errors.
func concurrently(jobs []func() error) error {
	if len(jobs) == 1 {
		return jobs[0]()
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, MaxConcurrentWrites)
	var wg sync.WaitGroup
	for i, job := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = job()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ceilSecond rounds t up to a whole second, the precision stores keep.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// ManyDeleter is a Store that removes several objects in one operation: S3's
// multi-object delete is one request for up to a thousand; the filesystem
// unlinks them all and makes the removals durable with one flush per
// directory. A stamping's pending markers go this way: concurrent stampings
// share the removal instead of each paying a request (or a HEAD and a
// DELETE) of its own.
type ManyDeleter interface {
	Store
	// DeleteMany removes each object — the version named, where the object
	// has one; else the current object, as Delete — unless a lock protects
	// it. It returns one error per object, index for index: nil where it
	// is gone (an object already absent included), a *LockedError where a
	// lock kept it.
	DeleteMany(ctx context.Context, objs []ObjectInfo) []error
}

// DeleteMany removes objs (their Key and VersionID): in one operation where
// the store can (ManyDeleter), else one Delete each. Objects already gone
// are not errors; the error joins the others, each naming its key.
func DeleteMany(ctx context.Context, s Store, objs []ObjectInfo) error {
	if len(objs) == 0 {
		return nil
	}
	var errs []error
	if md, ok := s.(ManyDeleter); ok {
		errs = md.DeleteMany(ctx, objs)
	} else {
		// A store without the operation removes each current object by
		// key, as Delete does (the version named is the current one here:
		// pending objects are written once and read by no one else).
		errs = make([]error, len(objs))
		for i, o := range objs {
			errs[i] = s.Delete(ctx, o.Key)
		}
	}
	var failed []error
	for i, err := range errs {
		if err != nil && !errors.Is(err, ErrNotFound) {
			failed = append(failed, fmt.Errorf("delete %q: %w", objs[i].Key, err))
		}
	}
	return errors.Join(failed...)
}
