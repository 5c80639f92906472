package main

import (
	"eseal/archive"
	"eseal/archive/fs"
)

// openFSStore opens the embedded filesystem object store.
func openFSStore(dir string) (archive.Store, error) {
	return fs.New(dir, fs.Options{})
}
