//go:build !linux

package fs

import "errors"

func syncfs(string) error { return errors.New("syncfs: not on this system") }

func canSyncfs(string) bool { return false }

func ownFilesystem(string) bool { return false }
