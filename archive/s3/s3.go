// Package s3 is the S3 (MinIO) backend of archive.Store, for production and
// for running several eseal replicas against one store.
//
// The bucket is versioned and created with Object Lock, so write-once is
// enforced by the server, not by this package: retention is COMPLIANCE
// (extend only, no bypass), a legal hold blocks deletion, and a delete is
// addressed to a version id, so it removes the version or fails rather than
// leaving a delete marker. PutIfAbsent sends If-None-Match: *, which the
// server checks under its object lock, cluster-wide.
package s3

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"eseal/archive"
)

// Config says where the store is.
type Config struct {
	// Endpoint is HOST:PORT of the S3 service.
	Endpoint string
	// Bucket is the bucket holding the store. It is created, with Object
	// Lock, if missing; an existing bucket without Object Lock is refused.
	Bucket string
	// AccessKey and SecretKey are the credentials.
	AccessKey, SecretKey string
	// Secure selects HTTPS.
	Secure bool
	// Region is the bucket's region; empty for the server's default.
	Region string
}

// Store is an archive.Store on an S3 bucket with Object Lock.
type Store struct {
	client *minio.Client
	bucket string
}

var _ archive.Store = (*Store)(nil)

// ErrNoObjectLock is returned by New for an existing bucket that was
// created without Object Lock (it cannot be turned on afterwards).
var ErrNoObjectLock = errors.New("archive/s3: bucket does not have Object Lock enabled")

// New connects to the bucket, creating it with Object Lock if it does not
// exist.
func New(ctx context.Context, cfg Config) (*Store, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("archive/s3: %w", err)
	}
	s := &Store{client: client, bucket: cfg.Bucket}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("archive/s3: bucket %q: %w", cfg.Bucket, err)
	}
	if !ok {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region, ObjectLocking: true})
		// Another replica may have created it meanwhile; the check below
		// tells whether it has Object Lock.
		if c := code(err); err != nil && c != "BucketAlreadyOwnedByYou" && c != "BucketAlreadyExists" {
			return nil, fmt.Errorf("archive/s3: create bucket %q: %w", cfg.Bucket, err)
		}
	}
	enabled, _, _, _, err := client.GetObjectLockConfig(ctx, cfg.Bucket)
	if err != nil {
		if code(err) == "ObjectLockConfigurationNotFoundError" {
			return nil, fmt.Errorf("%w: %q", ErrNoObjectLock, cfg.Bucket)
		}
		return nil, fmt.Errorf("archive/s3: bucket %q: %w", cfg.Bucket, err)
	}
	if enabled != "Enabled" {
		return nil, fmt.Errorf("%w: %q", ErrNoObjectLock, cfg.Bucket)
	}
	return s, nil
}

// Client returns the underlying minio-go client, for tests and tools that
// need raw S3 access.
func (s *Store) Client() *minio.Client { return s.client }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// PutIfAbsent implements archive.Store.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (archive.ObjectInfo, error) {
	return s.put(ctx, key, r, size, time.Time{})
}

// PutRetained implements archive.RetainingStore: one PUT carrying the
// Object Lock headers (COMPLIANCE until until) beside If-None-Match, so the
// object is never stored unlocked.
func (s *Store) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	until = ceilSecond(until).UTC()
	if !until.After(time.Now()) {
		return archive.ObjectInfo{}, fmt.Errorf("archive/s3: put %q: retention %s is not in the future", key, until.Format(time.RFC3339))
	}
	return s.put(ctx, key, r, size, until)
}

var _ archive.RetainingStore = (*Store)(nil)

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return archive.ObjectInfo{}, err
	}
	putID := rand.Text()
	opts := minio.PutObjectOptions{UserMetadata: map[string]string{putIDMeta: putID}}
	opts.SetMatchETagExcept("*") // If-None-Match: *
	if !until.IsZero() {
		// S3 wants a content checksum on a PUT with Object Lock headers.
		opts.Mode, opts.RetainUntilDate, opts.SendContentMd5 = minio.Compliance, until, true
	}
	up, err := s.client.PutObject(ctx, s.bucket, key, r, size, opts)
	if err != nil {
		if isPreconditionFailed(err) {
			return s.ownPut(ctx, key, putID)
		}
		return archive.ObjectInfo{}, fmt.Errorf("archive/s3: put %q: %w", key, err)
	}
	if size >= 0 && up.Size != size {
		return archive.ObjectInfo{}, fmt.Errorf("archive/s3: put %q: stored %d bytes, size given as %d", key, up.Size, size)
	}
	return archive.ObjectInfo{Key: key, Size: up.Size, VersionID: up.VersionID, ModTime: up.LastModified, RetainUntil: until}, nil
}

// putIDMeta names the user metadata carrying a random id for each put.
const putIDMeta = "eseal-put-id"

// ownPut tells, after a 412, whether the object there is this very put's.
// minio-go retries a request whose response was lost; if the first attempt
// had stored the object, the retry meets it and gets 412, and without this
// check the winner of an authorization commit would think it had lost.
// When the object cannot be read (the node that answered is gone), the
// outcome is unknown and said so with an error: ErrExists would tell the
// caller it lost, and a stamping that lost discards what it staged.
func (s *Store) ownPut(ctx context.Context, key, putID string) (archive.ObjectInfo, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if code(err) == "NoSuchKey" {
			// Gone again (deleted since): not this put's, which the 412
			// shows did not store it.
			return archive.ObjectInfo{}, archive.ErrExists
		}
		return archive.ObjectInfo{}, fmt.Errorf("archive/s3: put %q: 412, and whose object it is cannot be read: %w", key, err)
	}
	if oi.Metadata.Get("X-Amz-Meta-"+putIDMeta) != putID {
		return archive.ObjectInfo{}, archive.ErrExists
	}
	return toInfo(key, oi)
}

// Get implements archive.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return nil, archive.ObjectInfo{}, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, archive.ObjectInfo{}, s.mapErr("get", key, err)
	}
	// Stat sends the first GET, so a missing key fails here; the body read
	// afterwards comes from that same response.
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, archive.ObjectInfo{}, s.mapErr("get", key, err)
	}
	info, err := toInfo(key, oi)
	if err != nil {
		obj.Close()
		return nil, archive.ObjectInfo{}, err
	}
	return obj, info, nil
}

// Head implements archive.Store.
func (s *Store) Head(ctx context.Context, key string) (archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return archive.ObjectInfo{}, err
	}
	return s.head(ctx, "head", key)
}

func (s *Store) head(ctx context.Context, op, key string) (archive.ObjectInfo, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return archive.ObjectInfo{}, s.mapErr(op, key, err)
	}
	return toInfo(key, oi)
}

// toInfo converts minio-go's object information, reading retention and
// legal hold from the response headers.
func toInfo(key string, oi minio.ObjectInfo) (archive.ObjectInfo, error) {
	info := archive.ObjectInfo{
		Key:       key,
		Size:      oi.Size,
		VersionID: oi.VersionID,
		ModTime:   oi.LastModified,
		LegalHold: oi.Metadata.Get("X-Amz-Object-Lock-Legal-Hold") == string(minio.LegalHoldEnabled),
	}
	if v := oi.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return info, fmt.Errorf("archive/s3: %q: retain-until date %q: %w", key, v, err)
		}
		info.RetainUntil = t
	}
	return info, nil
}

// List implements archive.Store. It lists versions so as to report each
// key's current version id, and skips keys whose latest version is a delete
// marker (the store never makes one, but a raw S3 client can).
func (s *Store) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	if err := archive.ValidatePrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine if fn fails
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			return fmt.Errorf("archive/s3: list %q: %w", prefix, oi.Err)
		}
		if !oi.IsLatest || oi.IsDeleteMarker {
			continue
		}
		if err := fn(archive.ObjectInfo{Key: oi.Key, Size: oi.Size, VersionID: oi.VersionID, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// ListVersions implements archive.Store: S3 lists each key's versions
// newest first, which is the order the interface promises.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	if err := archive.ValidatePrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			return fmt.Errorf("archive/s3: list versions %q: %w", prefix, oi.Err)
		}
		if oi.IsDeleteMarker {
			continue
		}
		info := archive.ObjectInfo{Key: oi.Key, Size: oi.Size, VersionID: oi.VersionID, ModTime: oi.LastModified, Noncurrent: !oi.IsLatest}
		if err := fn(info); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// GetVersion implements archive.Store.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return nil, archive.ObjectInfo{}, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{VersionID: versionID})
	if err != nil {
		return nil, archive.ObjectInfo{}, s.mapErr("get version", key, err)
	}
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, archive.ObjectInfo{}, s.mapErr("get version", key, err)
	}
	info, err := toInfo(key, oi)
	if err != nil {
		obj.Close()
		return nil, archive.ObjectInfo{}, err
	}
	return obj, info, nil
}

// SetRetention implements archive.Store. Shortening is refused here with
// the current date in the error, and by the server in any case.
func (s *Store) SetRetention(ctx context.Context, key string, until time.Time) error {
	if err := archive.ValidateKey(key); err != nil {
		return err
	}
	until = ceilSecond(until).UTC()
	info, err := s.head(ctx, "set retention", key)
	if err != nil {
		return err
	}
	if until.Before(info.RetainUntil) {
		return &archive.LockedError{Key: key, Until: info.RetainUntil, Hold: info.LegalHold}
	}
	if !until.After(time.Now()) {
		return fmt.Errorf("archive/s3: set retention %q: %s is not in the future", key, until.Format(time.RFC3339))
	}
	mode := minio.Compliance
	err = s.client.PutObjectRetention(ctx, s.bucket, key, minio.PutObjectRetentionOptions{
		Mode:            &mode,
		RetainUntilDate: &until,
		VersionID:       info.VersionID,
	})
	if err != nil {
		if isLocked(err) {
			return s.lockedError(ctx, key)
		}
		return s.mapErr("set retention", key, err)
	}
	return nil
}

// SetLegalHold implements archive.Store.
func (s *Store) SetLegalHold(ctx context.Context, key string, on bool) error {
	if err := archive.ValidateKey(key); err != nil {
		return err
	}
	info, err := s.head(ctx, "set legal hold", key)
	if err != nil {
		return err
	}
	status := minio.LegalHoldDisabled
	if on {
		status = minio.LegalHoldEnabled
	}
	err = s.client.PutObjectLegalHold(ctx, s.bucket, key, minio.PutObjectLegalHoldOptions{VersionID: info.VersionID, Status: &status})
	if err != nil {
		return s.mapErr("set legal hold", key, err)
	}
	return nil
}

// Delete implements archive.Store. The server decides whether the version
// may go; its refusal is reported as a *archive.LockedError.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := archive.ValidateKey(key); err != nil {
		return err
	}
	info, err := s.head(ctx, "delete", key)
	if err != nil {
		return err
	}
	err = s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID})
	if err != nil {
		if isLocked(err) {
			return &archive.LockedError{Key: key, Until: info.RetainUntil, Hold: info.LegalHold}
		}
		return s.mapErr("delete", key, err)
	}
	return nil
}

// DeleteMany implements archive.ManyDeleter: the objects whose version is
// named go in S3's multi-object delete (one request per thousand); one
// without a version id is removed as Delete removes it.
func (s *Store) DeleteMany(ctx context.Context, objs []archive.ObjectInfo) []error {
	errs := make([]error, len(objs))
	at := map[[2]string]int{}
	ch := make(chan minio.ObjectInfo, len(objs))
	for i, o := range objs {
		if err := archive.ValidateKey(o.Key); err != nil {
			errs[i] = err
			continue
		}
		if o.VersionID == "" {
			errs[i] = s.Delete(ctx, o.Key)
			continue
		}
		at[[2]string{o.Key, o.VersionID}] = i
		ch <- minio.ObjectInfo{Key: o.Key, VersionID: o.VersionID}
	}
	close(ch)
	if len(at) == 0 {
		return errs
	}
	// The answer names every object removed and every one refused, except
	// a version that does not exist (gone already). An answer that could not
	// be read names none: then no object it did not name is known gone.
	unanswered := map[int]bool{}
	for _, i := range at {
		unanswered[i] = true
	}
	var whole error
	for r := range s.client.RemoveObjectsWithResult(ctx, s.bucket, ch, minio.RemoveObjectsOptions{}) {
		i, ok := at[[2]string{r.ObjectName, r.ObjectVersionID}]
		if !ok {
			if r.Err != nil {
				whole = r.Err
			}
			continue
		}
		delete(unanswered, i)
		switch {
		case r.Err == nil:
		case isLocked(r.Err):
			errs[i] = s.lockedError(ctx, r.ObjectName)
		default:
			errs[i] = s.mapErr("delete", r.ObjectName, r.Err)
		}
	}
	if whole != nil {
		for i := range unanswered {
			errs[i] = fmt.Errorf("archive/s3: delete %q: %w", objs[i].Key, whole)
		}
	}
	return errs
}

// lockedError builds a *archive.LockedError with the object's current lock.
func (s *Store) lockedError(ctx context.Context, key string) error {
	e := &archive.LockedError{Key: key}
	if info, err := s.head(ctx, "head", key); err == nil {
		e.Until, e.Hold = info.RetainUntil, info.LegalHold
	}
	return e
}

func (s *Store) mapErr(op, key string, err error) error {
	switch code(err) {
	case "NoSuchKey", "NoSuchVersion":
		return fmt.Errorf("archive/s3: %s %q: %w", op, key, archive.ErrNotFound)
	}
	return fmt.Errorf("archive/s3: %s %q: %w", op, key, err)
}

func code(err error) string { return minio.ToErrorResponse(err).Code }

func isPreconditionFailed(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "PreconditionFailed" || r.StatusCode == http.StatusPreconditionFailed
}

// isLocked reports whether the server refused because of Object Lock. MinIO
// answers 400 InvalidRequest "Object is WORM protected …"; AWS answers 403
// AccessDenied.
func isLocked(err error) bool {
	r := minio.ToErrorResponse(err)
	switch r.Code {
	case "InvalidRequest":
		return strings.Contains(r.Message, "WORM")
	case "AccessDenied", "ObjectLocked":
		return true
	}
	return false
}

// ceilSecond rounds t up to a whole second: S3 keeps retention dates to the
// second, and rounding down would shorten the retention asked for.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
