// Package fs is the filesystem backend of archive.Store, the embedded
// default that needs no set-up.
//
// Layout under the root directory, for the key "docs/2025/a.pdf":
//
//	docs~/2025~/a.pdf        the object's bytes, written once, mode 0440;
//	                         its retention and legal hold (JSON) in the
//	                         extended attribute user.eseal.lock, if ever set
//	docs~/2025~/a.pdf~lock   the same, as a side file, where the filesystem
//	                         keeps no user attributes (and in stores written
//	                         before they were used)
//	docs~/2025~/~tmp-123     a put or side-file write in progress, where
//	                         the system has no unnamed files (O_TMPFILE)
//
// Directories carry a "~" suffix and no key segment can contain "~", so the
// key "docs" and the key "docs/x" can both exist, and temporary files and
// side files can never be mistaken for objects.
//
// PutIfAbsent writes a file that has no name yet (O_TMPFILE; elsewhere a
// temporary name in the target directory), flushes it, and link(2)s it to
// the object's name: link fails if the name exists, which makes
// put-if-absent atomic across goroutines and processes. The directory is
// then flushed. Flushes are shared by every writer at the time (group
// commit, groupsync.go): on Linux one syncfs(2) of the store's filesystem
// covers them all, elsewhere one fsync per file and per directory.
// PutRetained sets the lock attribute on the file before it is linked, so
// an object final when written appears with its lock, in one write.
// Retention and legal hold are enforced by this package (there is no
// object lock on a plain filesystem): Delete refuses while either applies,
// and there is no overwrite operation. Changes to a lock and deletes are
// serialized per object with flock(2) on the object's file.
package fs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"eseal/archive"
)

const (
	dirSuffix  = "~"
	lockSuffix = "~lock"
	tmpPattern = "~tmp-*"
)

// Options configures a Store.
type Options struct {
	// Now returns the current time, against which retention is checked.
	// Defaults to time.Now; tests inject a clock.
	Now func() time.Time
	// Sync chooses how writes are made durable (groupsync.go); SyncAuto
	// by default.
	Sync SyncMode
	// Portable keeps locks in side files and writes through named
	// temporary files even where the filesystem offers user extended
	// attributes and unnamed files: what the store does anyway on one
	// that does not. For tests of that path; locks already set in
	// attributes are still read.
	Portable bool
}

// SyncMode is how the store makes its writes durable.
type SyncMode int

const (
	// SyncAuto is SyncWholeFS when the store's directory is on a
	// filesystem of its own (another device than the one "/" is on) and
	// the system has syncfs(2), else SyncEachFile.
	SyncAuto SyncMode = iota
	// SyncEachFile fsyncs each file, and each directory (shared by the
	// writers of one directory).
	SyncEachFile
	// SyncWholeFS makes concurrent writers share one syncfs(2) of the
	// store's filesystem, whatever their directory. A syncfs also flushes
	// what other programs wrote to that filesystem, so on a busy shared
	// filesystem it can cost more than it saves. Where the system has no
	// syncfs, it is SyncEachFile.
	SyncWholeFS
)

// Store is an archive.Store on a local directory.
type Store struct {
	root  string
	now   func() time.Time
	syncs dirSyncs
	// whole is set when one syncfs flushes everything (groupsync.go):
	// files are then not fsynced one by one.
	whole bool
	// unnamed: puts write unnamed files (O_TMPFILE) and link them.
	// attrs: locks are kept in the user.eseal.lock attribute, not in side
	// files.
	unnamed, attrs bool
}

var _ archive.Store = (*Store)(nil)

// New returns a Store rooted at dir, creating the directory if needed.
func New(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("archive/fs: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("archive/fs: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("archive/fs: %w", err)
	}
	s := &Store{root: abs, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	switch opts.Sync {
	case SyncWholeFS:
		s.whole = canSyncfs(abs)
	case SyncAuto:
		s.whole = ownFilesystem(abs) && canSyncfs(abs)
	}
	if s.whole {
		s.syncs.do = syncfs
	}
	if !opts.Portable {
		s.unnamed, s.attrs = fileFeatures(abs)
	}
	return s, nil
}

// Flushes are the shared flushes a store has made: syncfs calls with
// SyncWholeFS, directory fsyncs otherwise (a file's own fsync is its
// writer's, not shared, and not counted).
type Flushes struct {
	Count int64
	Time  time.Duration
}

// Flushes returns the shared flushes the store has made since it was
// opened. Concurrent writers wait for them (group commit), so when they run
// back to back, their count and length bound the store's write rate.
func (s *Store) Flushes() Flushes {
	return Flushes{Count: s.syncs.count.Load(), Time: time.Duration(s.syncs.took.Load())}
}

// durable returns once what was written in dir before the call is on disk:
// a shared flush of the whole filesystem, or of dir alone.
func (s *Store) durable(dir string) error {
	if s.whole {
		return s.syncs.sync(s.root)
	}
	return s.syncs.sync(dir)
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

// paths returns the directory holding the object with the given (valid)
// key, and the object's file path.
func (s *Store) paths(key string) (dir, file string) {
	i := strings.LastIndexByte(key, '/')
	dir = s.dirPath(key[:i+1])
	return dir, filepath.Join(dir, key[i+1:])
}

// dirPath returns the directory holding the objects whose keys are keyPrefix
// followed by one segment; keyPrefix is empty or ends in "/".
func (s *Store) dirPath(keyPrefix string) string {
	segs := strings.Split(strings.TrimSuffix(keyPrefix, "/"), "/")
	elems := []string{s.root}
	if keyPrefix != "" {
		for _, seg := range segs {
			elems = append(elems, seg+dirSuffix)
		}
	}
	return filepath.Join(elems...)
}

// PutIfAbsent implements archive.Store.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (archive.ObjectInfo, error) {
	return s.put(ctx, key, r, size, time.Time{})
}

// PutRetained implements archive.RetainingStore: the lock sidecar is
// prepared (written, fsynced) beside the object's temporary file and
// renamed into place right after the link, and one directory fsync makes
// both durable. A crash between link and rename leaves the object unlocked,
// as a crash between PutIfAbsent and SetRetention would; a put that is
// retried (Batch's Existing) locks it then.
func (s *Store) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	until = ceilSecond(until)
	if !until.After(s.now()) {
		return archive.ObjectInfo{}, fmt.Errorf("archive/fs: put %q: retention %s is not in the future", key, until.UTC().Format(time.RFC3339))
	}
	return s.put(ctx, key, r, size, until)
}

var _ archive.RetainingStore = (*Store)(nil)

// Versioned says that the store keeps one version per key (archive.Versioned).
func (s *Store) Versioned() bool { return false }

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return archive.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return archive.ObjectInfo{}, err
	}
	dir, file := s.paths(key)
	if _, err := os.Lstat(file); err == nil {
		return archive.ObjectInfo{}, archive.ErrExists // early out; link below decides
	}
	if err := s.checkNesting(ctx, key); err != nil {
		return archive.ObjectInfo{}, err
	}
	if err := s.mkdirs(dir); err != nil {
		return archive.ObjectInfo{}, err
	}
	// With attributes, the lock is set on the file before it has its
	// name. Without, its side file is written and fsynced beside the
	// object's temporary file, at the same time, and renamed into place
	// after the link: one more fsync in parallel, none after.
	type prepared struct {
		path string
		err  error
	}
	var lockTemp chan prepared
	var lockAttr []byte
	switch {
	case until.IsZero():
	case s.attrs:
		lockAttr = lockJSON(lockState{RetainUntil: until})
	default:
		lockTemp = make(chan prepared, 1)
		go func() {
			p, err := writeLockTemp(dir, lockState{RetainUntil: until}, !s.whole)
			lockTemp <- prepared{p, err}
		}()
	}
	tmp, err := s.writeTemp(ctx, dir, r, size, lockAttr)
	var side prepared
	if lockTemp != nil {
		side = <-lockTemp
		if side.path != "" {
			defer os.Remove(side.path) // gone once renamed into place
		}
		if err == nil {
			err = side.err
		}
	}
	if err != nil {
		tmp.discard()
		return archive.ObjectInfo{}, fmt.Errorf("archive/fs: put %q: %w", key, err)
	}
	defer tmp.discard()
	if s.whole {
		// The data first (the temporary files were not fsynced one by one).
		if err := s.durable(dir); err != nil {
			return archive.ObjectInfo{}, fmt.Errorf("archive/fs: put %q: %w", key, err)
		}
	}
	if err := tmp.link(file); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return archive.ObjectInfo{}, archive.ErrExists
		}
		return archive.ObjectInfo{}, fmt.Errorf("archive/fs: put %q: %w", key, err)
	}
	var lockErr error
	if side.path != "" {
		lockErr = s.placeLock(key, file, side.path, until)
	}
	if err := s.durable(dir); err != nil {
		return archive.ObjectInfo{}, fmt.Errorf("archive/fs: put %q: %w", key, err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return archive.ObjectInfo{}, fmt.Errorf("archive/fs: put %q: %w", key, err)
	}
	info := archive.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	if lockErr != nil {
		return info, fmt.Errorf("%w: %w", archive.ErrStoredUnlocked, lockErr)
	}
	info.RetainUntil = until
	return info, nil
}

// checkNesting refuses a key that is below an object or above one ("a"
// and "a/b"), which the S3 backend could not list. It is a check for
// layout mistakes, not a guarantee: two processes racing to put "a" and
// "a/b" can both succeed.
func (s *Store) checkNesting(ctx context.Context, key string) error {
	for i := range len(key) {
		if key[i] != '/' {
			continue
		}
		_, file := s.paths(key[:i])
		if fi, err := os.Lstat(file); err == nil && !fi.IsDir() {
			return &archive.KeyError{Key: key, Reason: fmt.Sprintf("%q is an object, so no key can be below it", key[:i])}
		}
	}
	errFound := errors.New("found")
	var child string
	err := s.List(ctx, key+"/", func(info archive.ObjectInfo) error {
		child = info.Key
		return errFound
	})
	if err == errFound {
		return &archive.KeyError{Key: key, Reason: fmt.Sprintf("is the parent of the object %q", child)}
	}
	return err
}

// tempFile is an object's file before it has its name: open and unnamed
// (O_TMPFILE), or closed under a temporary name.
type tempFile struct {
	f    *os.File
	path string
}

// link gives the file the object's name, failing if the name exists.
func (t *tempFile) link(name string) error {
	if t.f != nil {
		return linkUnnamed(t.f, name)
	}
	return os.Link(t.path, name)
}

// discard closes the file, and removes its temporary name if it has one
// (once linked, the object's name keeps it). Nil does nothing.
func (t *tempFile) discard() {
	switch {
	case t == nil:
	case t.f != nil:
		t.f.Close()
	case t.path != "":
		os.Remove(t.path)
	}
}

// writeTemp copies r into a new file in dir that has no name yet (or a
// temporary one), checks its length against size (unless -1), sets lock
// as its lock attribute if given, makes it read-only and fsyncs it unless
// one syncfs will.
func (s *Store) writeTemp(ctx context.Context, dir string, r io.Reader, size int64, lock []byte) (t *tempFile, err error) {
	var f *os.File
	if s.unnamed {
		f, err = openUnnamed(dir)
	} else {
		f, err = os.CreateTemp(dir, tmpPattern)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			if !s.unnamed {
				os.Remove(f.Name())
			}
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return nil, err
	}
	if size >= 0 && n != size {
		return nil, fmt.Errorf("read %d bytes, size given as %d", n, size)
	}
	if lock != nil {
		if err := setLockAttr(f, lock); err != nil {
			return nil, err
		}
	}
	if err := f.Chmod(0o440); err != nil {
		return nil, err
	}
	if !s.whole {
		if err := f.Sync(); err != nil {
			return nil, err
		}
	}
	if s.unnamed {
		return &tempFile{f: f}, nil
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &tempFile{path: f.Name()}, nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// mkdirs creates dir and its parents below the root, so that a link made
// in dir survives a crash: each directory it creates is made durable in its
// parent before the put goes on. With SyncWholeFS that is the put's own
// first flush, a syncfs that starts after the directories are made, so
// nothing is flushed here; otherwise the parent of each directory created
// is fsynced. A directory that exists already is left alone (one another
// process created an instant ago may not be flushed yet — a narrow window,
// accepted to keep puts cheap).
func (s *Store) mkdirs(dir string) error {
	rel, err := filepath.Rel(s.root, dir)
	if err != nil {
		return err
	}
	if rel == "." {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := s.root
	for _, seg := range strings.Split(rel, string(filepath.Separator)) {
		d := filepath.Join(parent, seg)
		err := os.Mkdir(d, 0o750)
		switch {
		case errors.Is(err, fs.ErrExist):
		case err != nil:
			return fmt.Errorf("archive/fs: %w", err)
		case !s.whole:
			if err := s.durable(parent); err != nil {
				return fmt.Errorf("archive/fs: %w", err)
			}
		}
		parent = d
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get implements archive.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return nil, archive.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, archive.ObjectInfo{}, err
	}
	_, file := s.paths(key)
	f, err := os.Open(file)
	if err != nil {
		return nil, archive.ObjectInfo{}, s.pathErr("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, archive.ObjectInfo{}, fmt.Errorf("archive/fs: get %q: %w", key, err)
	}
	info, err := s.info(key, file, fi)
	if err != nil {
		f.Close()
		return nil, archive.ObjectInfo{}, err
	}
	return f, info, nil
}

// Head implements archive.Store.
func (s *Store) Head(ctx context.Context, key string) (archive.ObjectInfo, error) {
	if err := archive.ValidateKey(key); err != nil {
		return archive.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return archive.ObjectInfo{}, err
	}
	_, file := s.paths(key)
	fi, err := os.Stat(file)
	if err != nil {
		return archive.ObjectInfo{}, s.pathErr("head", key, err)
	}
	return s.info(key, file, fi)
}

func (s *Store) info(key, file string, fi os.FileInfo) (archive.ObjectInfo, error) {
	l, err := readLock(file)
	if err != nil {
		return archive.ObjectInfo{}, fmt.Errorf("archive/fs: %q: %w", key, err)
	}
	return archive.ObjectInfo{
		Key:         key,
		Size:        fi.Size(),
		ModTime:     fi.ModTime(),
		RetainUntil: l.RetainUntil,
		LegalHold:   l.LegalHold,
	}, nil
}

func (s *Store) pathErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("archive/fs: %s %q: %w", op, key, archive.ErrNotFound)
	}
	return fmt.Errorf("archive/fs: %s %q: %w", op, key, err)
}

// List implements archive.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	if err := archive.ValidatePrefix(prefix); err != nil {
		return err
	}
	// Start in the deepest directory the prefix names completely.
	keyPrefix := prefix[:strings.LastIndexByte(prefix, '/')+1]
	return s.walk(ctx, s.dirPath(keyPrefix), keyPrefix, prefix, fn)
}

// walk lists dir, whose objects have keys starting with keyPrefix, calling
// fn for those matching prefix. Entries are visited in the order of the
// keys they hold: an object "a" sorts as "a", a directory "a~" as "a/",
// which yields lexical key order overall.
func (s *Store) walk(ctx context.Context, dir, keyPrefix, prefix string, fn func(archive.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("archive/fs: list %q: %w", prefix, err)
	}
	type entry struct {
		sortKey string
		de      fs.DirEntry
		isDir   bool
	}
	var list []entry
	for _, de := range entries {
		name := de.Name()
		switch i := strings.IndexByte(name, '~'); {
		case i < 0 && !de.IsDir():
			list = append(list, entry{keyPrefix + name, de, false})
		case i > 0 && i == len(name)-1 && de.IsDir():
			list = append(list, entry{keyPrefix + name[:i] + "/", de, true})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].sortKey < list[j].sortKey })
	for _, e := range list {
		if e.isDir {
			if strings.HasPrefix(e.sortKey, prefix) || strings.HasPrefix(prefix, e.sortKey) {
				if err := s.walk(ctx, filepath.Join(dir, e.de.Name()), e.sortKey, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(e.sortKey, prefix) {
			continue
		}
		fi, err := e.de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while listing
		}
		if err != nil {
			return fmt.Errorf("archive/fs: list %q: %w", prefix, err)
		}
		if err := fn(archive.ObjectInfo{Key: e.sortKey, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// ListVersions implements archive.Store. A file holds one version, so it
// lists what List lists.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	return s.List(ctx, prefix, fn)
}

// GetVersion implements archive.Store: the one version there is has the
// empty version id.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, archive.ObjectInfo, error) {
	if versionID != "" {
		if err := archive.ValidateKey(key); err != nil {
			return nil, archive.ObjectInfo{}, err
		}
		return nil, archive.ObjectInfo{}, fmt.Errorf("archive/fs: get %q version %q: %w", key, versionID, archive.ErrNotFound)
	}
	return s.Get(ctx, key)
}

// SetRetention implements archive.Store.
func (s *Store) SetRetention(ctx context.Context, key string, until time.Time) error {
	if err := archive.ValidateKey(key); err != nil {
		return err
	}
	until = ceilSecond(until)
	return s.update(ctx, "set retention", key, func(l *lockState) error {
		if until.Before(l.RetainUntil) {
			return &archive.LockedError{Key: key, Until: l.RetainUntil, Hold: l.LegalHold}
		}
		if !until.After(s.now()) {
			return fmt.Errorf("archive/fs: set retention %q: %s is not in the future", key, until.UTC().Format(time.RFC3339))
		}
		l.RetainUntil = until
		return nil
	})
}

// SetLegalHold implements archive.Store.
func (s *Store) SetLegalHold(ctx context.Context, key string, on bool) error {
	if err := archive.ValidateKey(key); err != nil {
		return err
	}
	return s.update(ctx, "set legal hold", key, func(l *lockState) error {
		l.LegalHold = on
		return nil
	})
}

// Delete implements archive.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	dir, err := s.remove(ctx, key)
	if err != nil {
		return err
	}
	if err := s.durable(dir); err != nil {
		return fmt.Errorf("archive/fs: delete %q: %w", key, err)
	}
	return nil
}

// DeleteMany implements archive.ManyDeleter: every object is removed, then
// each directory they were in is flushed once (with SyncWholeFS, one flush
// for them all). Version ids are ignored: a key has one version here.
func (s *Store) DeleteMany(ctx context.Context, objs []archive.ObjectInfo) []error {
	errs := make([]error, len(objs))
	dirs := map[string][]int{}
	for i, o := range objs {
		dir, err := s.remove(ctx, o.Key)
		if err != nil {
			errs[i] = err
			continue
		}
		dirs[dir] = append(dirs[dir], i)
	}
	for dir, removed := range dirs {
		if err := s.durable(dir); err != nil {
			for _, i := range removed {
				errs[i] = fmt.Errorf("archive/fs: delete %q: %w", objs[i].Key, err)
			}
		}
	}
	return errs
}

// remove unlinks an object no lock protects and returns its directory, to
// be flushed before the removal is durable.
func (s *Store) remove(ctx context.Context, key string) (dir string, err error) {
	if err := archive.ValidateKey(key); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir, file := s.paths(key)
	f, err := lockObject(file)
	if err != nil {
		return "", s.pathErr("delete", key, err)
	}
	defer f.Close()
	l, err := readLock(file)
	if err != nil {
		return "", fmt.Errorf("archive/fs: delete %q: %w", key, err)
	}
	if l.LegalHold || s.now().Before(l.RetainUntil) {
		return "", &archive.LockedError{Key: key, Until: l.RetainUntil, Hold: l.LegalHold}
	}
	// The sidecar goes first: should we crash between the two removals, the
	// object is left without retention (which had passed anyway) rather
	// than a stale sidecar applying to a later object with the same key.
	if err := os.Remove(file + lockSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("archive/fs: delete %q: %w", key, err)
	}
	if err := os.Remove(file); err != nil {
		return "", fmt.Errorf("archive/fs: delete %q: %w", key, err)
	}
	return dir, nil
}

// update changes an object's sidecar under the object's lock.
func (s *Store) update(ctx context.Context, op, key string, change func(*lockState) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, file := s.paths(key)
	f, err := lockObject(file)
	if err != nil {
		return s.pathErr(op, key, err)
	}
	defer f.Close()
	l, err := readLock(file)
	if err != nil {
		return fmt.Errorf("archive/fs: %s %q: %w", op, key, err)
	}
	if err := change(&l); err != nil {
		return err
	}
	if s.attrs {
		err = s.writeLockAttr(f, dir, file, l)
	} else {
		err = s.writeLockSide(f, dir, file, l)
	}
	if err != nil {
		return fmt.Errorf("archive/fs: %s %q: %w", op, key, err)
	}
	return nil
}

// writeLockAttr sets an object's lock attribute and flushes it — the
// file's own metadata: no directory changes — then removes a side file
// left from before, whose state l already includes.
func (s *Store) writeLockAttr(f *os.File, dir, file string, l lockState) error {
	if err := setLockAttr(f, lockJSON(l)); err != nil {
		return err
	}
	if s.whole {
		if err := s.durable(dir); err != nil {
			return err
		}
	} else if err := f.Sync(); err != nil {
		return err
	}
	switch err := os.Remove(file + lockSuffix); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	return s.durable(dir)
}

// writeLockSide replaces an object's side file, and drops a lock
// attribute set before (Options.Portable), which would take precedence:
// durably, or a crash could bring it back over the change.
func (s *Store) writeLockSide(f *os.File, dir, file string, l lockState) error {
	if err := s.writeLock(dir, file, l); err != nil {
		return err
	}
	if err := s.durable(dir); err != nil {
		return err
	}
	if dropped, err := dropLockAttr(f); err != nil || !dropped {
		return err
	}
	return f.Sync()
}

// lockObject opens the object's file and takes an exclusive flock on it,
// making sure the file locked is still the one under that name (a Delete
// may have removed it, and a put created another, while we waited).
func lockObject(file string) (*os.File, error) {
	for {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, err
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(file)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err2 != nil {
			return nil, err2
		}
		if err1 != nil {
			return nil, err1
		}
	}
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockState is the content of an object's sidecar.
type lockState struct {
	RetainUntil time.Time `json:"retainUntil,omitzero"`
	LegalHold   bool      `json:"legalHold,omitempty"`
}

// readLock reads an object's lock: its attribute, or else its side file.
func readLock(file string) (lockState, error) {
	var l lockState
	b, ok, err := getLockAttr(file)
	if err != nil {
		return l, err
	}
	if !ok {
		b, err = os.ReadFile(file + lockSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			return l, nil
		}
		if err != nil {
			return l, err
		}
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("corrupt retention lock: %w", err)
	}
	return l, nil
}

func lockJSON(l lockState) []byte {
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // a time and a bool always encode
	}
	return b
}

// writeLock replaces the sidecar atomically: temporary file, fsync, rename.
// The caller fsyncs the directory.
func (s *Store) writeLock(dir, file string, l lockState) error {
	tmp, err := writeLockTemp(dir, l, !s.whole)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if s.whole {
		if err := s.durable(dir); err != nil {
			return err
		}
	}
	return os.Rename(tmp, file+lockSuffix)
}

// writeLockTemp writes l to a new temporary file in dir, fsynced if sync
// is set, and returns its path.
func writeLockTemp(dir string, l lockState, sync bool) (string, error) {
	b := lockJSON(l)
	f, err := os.CreateTemp(dir, tmpPattern)
	if err != nil {
		return "", err
	}
	if _, err = f.Write(b); err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// placeLock puts a prepared side file (tmp) in place for an object just
// linked, under the object's flock like every sidecar change: if another
// writer set a lock or hold in the instant since the link, the two are
// merged instead.
func (s *Store) placeLock(key, file, tmp string, until time.Time) error {
	f, err := lockObject(file)
	if err != nil {
		return s.pathErr("put", key, err)
	}
	defer f.Close()
	if _, err := os.Lstat(file + lockSuffix); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(tmp, file+lockSuffix)
	}
	l, err := readLock(file)
	if err != nil {
		return err
	}
	if until.After(l.RetainUntil) {
		l.RetainUntil = until
	}
	return s.writeLock(filepath.Dir(file), file, l)
}

// ceilSecond rounds t up to a whole second, the precision S3 keeps.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// SweepTemp removes temporary files that interrupted writes (a crash, a
// SIGKILL) left behind, if older than olderThan so that writes in progress
// in other processes are left alone. Temporary files are never listed, so
// they only cost disk space; `eseal serve` sweeps at start-up.
func (s *Store) SweepTemp(ctx context.Context, olderThan time.Duration) (removed int, err error) {
	cutoff := time.Now().Add(-olderThan)
	err = filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), "~tmp-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			return nil
		}
		if err := os.Remove(path); err == nil {
			removed++
		}
		return nil
	})
	return removed, err
}
