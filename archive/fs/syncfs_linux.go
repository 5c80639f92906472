package fs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// syncfs flushes the whole filesystem holding dir: every file's data and
// every directory written before the call (syncfs(2); its errors are
// reported since Linux 5.8).
func syncfs(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		err := unix.Syncfs(int(d.Fd()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "syncfs", Path: dir, Err: err}
		}
		return nil
	}
}

// canSyncfs tells whether syncfs works on dir's filesystem.
func canSyncfs(dir string) bool { return syncfs(dir) == nil }

// ownFilesystem tells whether dir is on another filesystem than "/": a
// volume of its own, whose syncfs flushes nothing but the store.
func ownFilesystem(dir string) bool {
	var d, root unix.Stat_t
	return unix.Stat(dir, &d) == nil && unix.Stat("/", &root) == nil && d.Dev != root.Dev
}
