package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Observer is told about every store operation: its name, its error (nil on
// success) and how long it took. Metrics hang off it.
type Observer func(op string, err error, d time.Duration)

// Instrument returns a Store that reports every operation of s to observe.
func Instrument(s Store, observe Observer) Store { return &instrumented{s, observe} }

type instrumented struct {
	s       Store
	observe Observer
}

func (i *instrumented) done(op string, start time.Time, err error) {
	i.observe(op, err, time.Since(start))
}

func (i *instrumented) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (info ObjectInfo, err error) {
	defer func(t time.Time) { i.done("put_if_absent", t, err) }(time.Now())
	return i.s.PutIfAbsent(ctx, key, r, size)
}

func (i *instrumented) Get(ctx context.Context, key string) (rc io.ReadCloser, info ObjectInfo, err error) {
	defer func(t time.Time) { i.done("get", t, err) }(time.Now())
	return i.s.Get(ctx, key)
}

func (i *instrumented) Head(ctx context.Context, key string) (info ObjectInfo, err error) {
	defer func(t time.Time) { i.done("head", t, err) }(time.Now())
	return i.s.Head(ctx, key)
}

func (i *instrumented) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) (err error) {
	defer func(t time.Time) { i.done("list", t, err) }(time.Now())
	return i.s.List(ctx, prefix, fn)
}

func (i *instrumented) ListVersions(ctx context.Context, prefix string, fn func(ObjectInfo) error) (err error) {
	defer func(t time.Time) { i.done("list_versions", t, err) }(time.Now())
	return i.s.ListVersions(ctx, prefix, fn)
}

func (i *instrumented) GetVersion(ctx context.Context, key, versionID string) (rc io.ReadCloser, info ObjectInfo, err error) {
	defer func(t time.Time) { i.done("get_version", t, err) }(time.Now())
	return i.s.GetVersion(ctx, key, versionID)
}

func (i *instrumented) SetRetention(ctx context.Context, key string, until time.Time) (err error) {
	defer func(t time.Time) { i.done("set_retention", t, err) }(time.Now())
	return i.s.SetRetention(ctx, key, until)
}

func (i *instrumented) SetLegalHold(ctx context.Context, key string, on bool) (err error) {
	defer func(t time.Time) { i.done("set_legal_hold", t, err) }(time.Now())
	return i.s.SetLegalHold(ctx, key, on)
}

func (i *instrumented) Delete(ctx context.Context, key string) (err error) {
	defer func(t time.Time) { i.done("delete", t, err) }(time.Now())
	return i.s.Delete(ctx, key)
}

// PutRetained passes a put with retention on as one operation; a store that
// cannot lock in the put makes it two (archive.PutRetained).
func (i *instrumented) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (info ObjectInfo, err error) {
	defer func(t time.Time) { i.done("put_retained", t, err) }(time.Now())
	if rs, ok := i.s.(RetainingStore); ok {
		return rs.PutRetained(ctx, key, r, size, until)
	}
	if info, err = i.s.PutIfAbsent(ctx, key, r, size); err != nil {
		return info, err
	}
	if err := i.s.SetRetention(ctx, key, until); err != nil {
		return info, fmt.Errorf("%w: %s: %w", ErrStoredUnlocked, key, err)
	}
	return info, nil
}

// DeleteMany passes a removal of many objects on as one operation; a store
// that cannot make it one makes a Delete of each (archive.DeleteMany).
func (i *instrumented) DeleteMany(ctx context.Context, objs []ObjectInfo) (errs []error) {
	start := time.Now()
	if md, ok := i.s.(ManyDeleter); ok {
		errs = md.DeleteMany(ctx, objs)
		var failed error
		for _, err := range errs {
			if err != nil && !errors.Is(err, ErrNotFound) {
				failed = err
			}
		}
		i.done("delete_many", start, failed)
		return errs
	}
	errs = make([]error, len(objs))
	for n, o := range objs {
		errs[n] = i.Delete(ctx, o.Key)
	}
	return errs
}

// Versioned passes on whether the store keeps versions (archive.Versioned).
func (i *instrumented) Versioned() bool { return Versioned(i.s) }
