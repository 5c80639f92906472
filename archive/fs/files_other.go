//go:build !linux

package fs

import (
	"errors"
	"os"
)

var errNoSupport = errors.New("not on this system")

func getLockAttr(string) ([]byte, bool, error) { return nil, false, nil }

func setLockAttr(*os.File, []byte) error { return errNoSupport }

func dropLockAttr(*os.File) (bool, error) { return false, nil }

func openUnnamed(string) (*os.File, error) { return nil, errNoSupport }

func linkUnnamed(*os.File, string) error { return errNoSupport }

func fileFeatures(string) (unnamed, attrs bool) { return false, false }
