// Command eseal is the eseal service and its command-line tool: it
// initialises an organisation, manages seals, stamps and verifies PDFs.
//
// Exit status: 0 on success; 1 on an error. `eseal verify` exits 0 VALID,
// 1 INVALID, 2 INDETERMINATE and 3 when it could not verify at all.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"eseal/archive"
	"eseal/archive/store"
	"eseal/keys"
	"eseal/seal"
)

// exitError carries an exit status other than 1 out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eseal:", err)
	}
	os.Exit(code)
}

// globals are the flags every command shares.
type globals struct {
	dir           string
	store         string
	masterKeyFile string
	// observe, when set, is told about every store operation (metrics).
	observe archive.Observer
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "eseal",
		Short: "Electronic seals (SM2/SM3, GB/T 38540) and e-archiving for approval documents",
		Long: `eseal stamps approval PDFs with SM2/SM3 electronic seals, verifies them,
and keeps the signed documents in write-once storage.

A data directory holds everything: the object store (DIR/store) and, in demo
mode, the key-encryption key (DIR/master.key). In production set
ESEAL_MASTER_KEY (32 hex digits) or --master-key-file instead.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("ESEAL_DIR")
	if def == "" {
		def = "data"
	}
	root.PersistentFlags().StringVar(&g.dir, "dir", def, "data directory (env ESEAL_DIR)")
	root.PersistentFlags().StringVar(&g.store, "store", os.Getenv("ESEAL_STORE"), "object store: a directory or s3://HOST:PORT/BUCKET[?tls=false] (default DIR/store; env ESEAL_STORE; S3 credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	root.PersistentFlags().StringVar(&g.masterKeyFile, "master-key-file", "", "file holding the key-encryption key (default: env ESEAL_MASTER_KEY, else DIR/master.key)")
	root.AddCommand(newInitCmd(g), newSealCmd(g), newStampCmd(g), newVerifyCmd(g), newDemoCmd(g), newServeCmd(g), newArchiveCmd(g))
	return root
}

// storeDir is where the filesystem object store lives inside the data dir.
func (g *globals) storeDir() string { return filepath.Join(g.dir, "store") }

func (g *globals) demoKeyFile() string { return filepath.Join(g.dir, "master.key") }

// loadKEK finds the key-encryption key: flag, environment, then the demo file.
func (g *globals) loadKEK() (*keys.KEK, error) {
	if g.masterKeyFile != "" {
		return keys.LoadKEKFile(g.masterKeyFile)
	}
	if os.Getenv("ESEAL_MASTER_KEY") != "" {
		return keys.LoadKEK()
	}
	if _, err := os.Stat(g.demoKeyFile()); err == nil {
		return keys.LoadKEKFile(g.demoKeyFile())
	}
	return nil, fmt.Errorf("no key-encryption key: set ESEAL_MASTER_KEY, pass --master-key-file, or run `eseal init --dir %s` for a demo set-up", g.dir)
}

// openStore opens the object store: --store, else DIR/store. With create,
// the default directory is made if missing.
func (g *globals) openStore(ctx context.Context, create bool) (archive.Store, error) {
	st, err := g.openRawStore(ctx, create)
	if err != nil || g.observe == nil {
		return st, err
	}
	return archive.Instrument(st, g.observe), nil
}

func (g *globals) openRawStore(ctx context.Context, create bool) (archive.Store, error) {
	if g.store != "" {
		return store.Open(ctx, g.store)
	}
	if create {
		if err := os.MkdirAll(g.storeDir(), 0o700); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(g.storeDir()); err != nil {
		return nil, fmt.Errorf("no data in %s: run `eseal init --dir %s` first", g.dir, g.dir)
	}
	return store.Open(ctx, g.storeDir())
}

// initialised reports whether the store holds an organisation.
func initialised(ctx context.Context, st archive.Store) (bool, error) {
	_, err := st.Head(ctx, seal.OrgKey)
	if errors.Is(err, archive.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// openRegistry opens the organisation's seal registry in the data dir.
func (g *globals) openRegistry(ctx context.Context) (*seal.Registry, archive.Store, error) {
	store, err := g.openStore(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	kek, err := g.loadKEK()
	if err != nil {
		return nil, nil, err
	}
	reg, err := seal.OpenRegistry(ctx, store, kek, seal.Options{})
	if err != nil {
		return nil, nil, err
	}
	return reg, store, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
