// Command eseal is the eseal service and its command-line tool: it
// initialises an organisation, manages seals, stamps and verifies PDFs.
//
// Exit status: 0 on success; 1 on an error. `eseal verify` exits 0 VALID,
// 1 INVALID, 2 INDETERMINATE and 3 when it could not verify at all.
package main

import (
	// Zone data inside the binary: time_zone works on hosts without
	// /usr/share/zoneinfo.
	_ "time/tzdata"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"eseal/archive"
	"eseal/archive/audit"
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
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the eseal command with its arguments (without the program's name)
// and output streams; it returns the exit status (see the package comment).
// main and the tests run eseal through it alone.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root, g := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if cerr := g.checkpoint(context.Background()); cerr != nil {
		fmt.Fprintln(stderr, "eseal: audit checkpoint:", cerr)
		if err == nil {
			err = cerr
		}
	}
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		fmt.Fprintln(stderr, "eseal:", err)
	}
	return code
}

// globals are the flags every command shares.
type globals struct {
	dir           string
	store         string
	masterKeyFile string
	// observe, when set, is told about every store operation (metrics).
	observe archive.Observer
	node    string
	// auditLog is the audit log opened with the registry; appended counts
	// the entries this process wrote, so it checkpoints them before exiting.
	auditLog *audit.Log
	appended atomic.Int64
	// auditFailed, when set, counts failed audit appends (a metric).
	auditFailed func()
	// publicURL is the service's external base URL (serve's public_url,
	// else ESEAL_PUBLIC_URL): certificates issued name the CRL and root
	// certificate under it.
	publicURL string
}

func newRoot() (*cobra.Command, *globals) {
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
	root.PersistentFlags().StringVar(&g.node, "node", os.Getenv("ESEAL_NODE"), "this replica's audit-log shard name, [a-z0-9-] (env ESEAL_NODE; default: the host name)")
	root.PersistentFlags().StringVar(&g.masterKeyFile, "master-key-file", "", "file holding the key-encryption key (default: env ESEAL_MASTER_KEY, else DIR/master.key)")
	root.AddCommand(newInitCmd(g), newSealCmd(g), newStampCmd(g), newVerifyCmd(g), newLTVCmd(g), newDemoCmd(g), newServeCmd(g), newArchiveCmd(g), newKeyCmd(g), newPersonCmd(g), newApproveCmd(), newUnitCmd(g), newIndexCmd(g))
	return root, g
}

// storeDir is where the filesystem object store lives inside the data dir.
func (g *globals) storeDir() string { return filepath.Join(g.dir, "store") }

func (g *globals) demoKeyFile() string { return filepath.Join(g.dir, "master.key") }

// demoKeyInUse returns the demo key file's path when the key-encryption key
// comes from beside the data (no --master-key-file, no ESEAL_MASTER_KEY):
// demo mode. On an empty data directory it is the key init will make.
func (g *globals) demoKeyInUse() string {
	if g.masterKeyFile != "" || os.Getenv("ESEAL_MASTER_KEY") != "" {
		return ""
	}
	return g.demoKeyFile()
}

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

// openRegistry opens the organisation's seal registry in the data dir, with
// this node's audit log attached.
func (g *globals) openRegistry(ctx context.Context) (*seal.Registry, archive.Store, error) {
	reg, store, err := g.openRegistryReadOnly(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := g.openAudit(ctx, reg, store); err != nil {
		return nil, nil, err
	}
	// A persons' CA's CRL is fetched from the distribution point a
	// person's certificate names when none is stored or it is stale;
	// ESEAL_PERSON_CRL_FETCH=off leaves it to the admin (a closed network).
	switch v := os.Getenv("ESEAL_PERSON_CRL_FETCH"); v {
	case "", "on":
		reg.SetCRLFetch(&seal.CRLFetch{})
	case "off":
	default:
		return nil, nil, fmt.Errorf("ESEAL_PERSON_CRL_FETCH=%q: on or off", v)
	}
	return reg, store, nil
}

// publicURLOrEnv is the public URL serve set, else ESEAL_PUBLIC_URL.
func (g *globals) publicURLOrEnv() string {
	if g.publicURL != "" {
		return g.publicURL
	}
	return strings.TrimSuffix(os.Getenv("ESEAL_PUBLIC_URL"), "/")
}

// openRegistryReadOnly opens the registry without the audit log, for
// commands that only read (and for checking a log that may be damaged).
func (g *globals) openRegistryReadOnly(ctx context.Context) (*seal.Registry, archive.Store, error) {
	store, err := g.openStore(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	kek, err := g.loadKEK()
	if err != nil {
		return nil, nil, err
	}
	reg, err := seal.OpenRegistry(ctx, store, kek, seal.Options{PublicURL: g.publicURLOrEnv()})
	if err != nil {
		return nil, nil, err
	}
	return reg, store, nil
}

// openAudit opens this node's shard of the audit log and routes the
// registry's state changes into it.
func (g *globals) openAudit(ctx context.Context, reg *seal.Registry, store archive.Store) error {
	signer, err := reg.AuditSigner(ctx)
	if err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	g.auditLog, err = audit.Open(ctx, store, g.nodeName(), audit.Options{Signer: signer})
	if err != nil {
		return err
	}
	reg.SetAuditor(countingAuditor{seal.LogAuditor{Log: g.auditLog, Failed: g.auditFailed}, &g.appended})
	return nil
}

// checkpoint signs a checkpoint over all shards if this process appended to
// the log since the last one.
func (g *globals) checkpoint(ctx context.Context) error {
	if g.auditLog == nil || g.appended.Swap(0) == 0 {
		return nil
	}
	_, err := g.auditLog.Checkpoint(ctx)
	return err
}

type countingAuditor struct {
	seal.Auditor
	n *atomic.Int64
}

func (c countingAuditor) Append(ctx context.Context, e seal.AuditEvent) error {
	err := c.Auditor.Append(ctx, e)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

// nodeName is --node, else the host name made into a shard name.
func (g *globals) nodeName() string {
	if g.node != "" {
		return g.node
	}
	h, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-':
			b.WriteRune(r)
		case r == '.' || r == '_':
			b.WriteByte('-')
		}
		if b.Len() == 32 {
			break
		}
	}
	if b.Len() == 0 || b.String() == "nodes" || b.String() == "checkpoints" {
		return "eseal"
	}
	return b.String()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
