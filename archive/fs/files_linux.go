package fs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockAttr is the extended attribute that holds an object's retention and
// legal hold (lockState as JSON) where the filesystem keeps user
// attributes: it lives and dies with the object's inode, so a lock costs
// no file of its own.
const lockAttr = "user.eseal.lock"

// getLockAttr returns the object's lock attribute; ok is false when it has
// none or the filesystem keeps no user attributes.
func getLockAttr(file string) (b []byte, ok bool, err error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Getxattr(file, lockAttr, buf)
		switch {
		case err == nil:
			return buf[:n], true, nil
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			if len(buf) > 1<<16 {
				return nil, false, &os.PathError{Op: "getxattr", Path: file, Err: err}
			}
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, false, nil
		case errors.Is(err, unix.EINTR):
		default:
			return nil, false, &os.PathError{Op: "getxattr", Path: file, Err: err}
		}
	}
}

// setLockAttr sets the lock attribute on an open file.
func setLockAttr(f *os.File, b []byte) error {
	if err := asWriter(f, func(fd int) error { return unix.Fsetxattr(fd, lockAttr, b, 0) }); err != nil {
		return &os.PathError{Op: "fsetxattr", Path: f.Name(), Err: err}
	}
	return nil
}

// dropLockAttr removes the lock attribute from an open file, if it has one,
// and says whether it had.
func dropLockAttr(f *os.File) (bool, error) {
	err := asWriter(f, func(fd int) error { return unix.Fremovexattr(fd, lockAttr) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return false, nil
	}
	return false, &os.PathError{Op: "fremovexattr", Path: f.Name(), Err: err}
}

// asWriter runs change, an attribute change on f. Changing a user
// attribute needs write permission on the inode, which a stored object
// (mode 0440) grants nobody but root: if refused, the owner lends it to
// itself for the call.
func asWriter(f *os.File, change func(fd int) error) error {
	fd := int(f.Fd())
	err := change(fd)
	if !errors.Is(err, unix.EACCES) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	mode := st.Mode & 0o7777
	if err := unix.Fchmod(fd, mode|0o200); err != nil {
		return err
	}
	err = change(fd)
	if cerr := unix.Fchmod(fd, mode); err == nil {
		err = cerr
	}
	return err
}

// openUnnamed opens a new file in dir that has no name (O_TMPFILE): a put
// cut short by a crash leaves nothing behind, and linking it to the
// object's name is the only change to the directory.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
}

// linkUnnamed gives a file opened by openUnnamed its name; like link(2),
// it fails with EEXIST if the name exists.
func linkUnnamed(f *os.File, name string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: f.Name(), New: name, Err: err}
	}
	return nil
}

// fileFeatures tells which of the two the filesystem holding dir offers, by
// trying them on a file that is never named: unnamed files (O_TMPFILE and
// linkat through /proc) and user extended attributes.
func fileFeatures(dir string) (unnamed, attrs bool) {
	f, err := openUnnamed(dir)
	if err != nil {
		return false, false
	}
	defer f.Close()
	attrs = unix.Fsetxattr(int(f.Fd()), lockAttr, []byte("{}"), 0) == nil
	probe := filepath.Join(dir, "~tmp-probe-"+strconv.Itoa(os.Getpid()))
	if linkUnnamed(f, probe) == nil {
		unnamed = true
		os.Remove(probe)
	}
	return unnamed, attrs
}
