package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/store"
)

// newBackupCmds are `eseal archive backup` and `eseal archive restore`:
// store to store, bytes only, so neither needs the key-encryption key and
// wrapped keys stay wrapped.
func newBackupCmds(g *globals, asJSON *bool) []*cobra.Command {
	var to, from string
	backup := &cobra.Command{
		Use:   "backup --to STORE",
		Short: "Copy every object (every version on S3) with its retention and legal hold to a second store; run again to resume or update",
		Long: `Copy every object of the store (every version, where the backend keeps
versions) with its retention and legal hold to a second store: a directory or
s3://HOST:PORT/BUCKET, as for --store. Objects already there and identical are
skipped, so an interrupted backup resumes and a later one adds what is new.
An object there that differs from its source is left alone and reported
(exit 1). Older versions go to versions/<key>/<version id>.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := g.openRawStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			dst, err := openOtherStore(cmd.Context(), to, "--to", src, true)
			if err != nil {
				return err
			}
			return runCopy(cmd, "backup", *asJSON, func(opts archive.CopyOptions) (*archive.CopyReport, error) {
				return archive.Backup(cmd.Context(), src, dst, opts)
			})
		},
	}
	backup.Flags().StringVar(&to, "to", "", "the store to copy into: a directory or s3://HOST:PORT/BUCKET (required)")
	_ = backup.MarkFlagRequired("to")

	restore := &cobra.Command{
		Use:   "restore --from STORE",
		Short: "Rebuild an empty store (--store, or DIR/store) from a backup, re-applying retention and legal holds",
		Long: `Rebuild the store (--store, or DIR/store) from a backup made with
'eseal archive backup', re-applying every retention date and legal hold. The
store must be empty: a restore never mixes with live data. A restore cut short
can be run again and continues where it stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dst, err := g.openRawStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			src, err := openOtherStore(cmd.Context(), from, "--from", dst, false)
			if err != nil {
				return err
			}
			return runCopy(cmd, "restore", *asJSON, func(opts archive.CopyOptions) (*archive.CopyReport, error) {
				return archive.Restore(cmd.Context(), src, dst, opts)
			})
		},
	}
	restore.Flags().StringVar(&from, "from", "", "the backup: a directory or s3://HOST:PORT/BUCKET (required)")
	_ = restore.MarkFlagRequired("from")
	return []*cobra.Command{backup, restore}
}

// openOtherStore opens the second store of a backup or restore. A directory
// that is to be read must exist (opening would create an empty one), and
// the second store must not be the first.
func openOtherStore(ctx context.Context, uri, flag string, first archive.Store, create bool) (archive.Store, error) {
	if uri == "" {
		return nil, fmt.Errorf("%s: give a directory or s3://HOST:PORT/BUCKET", flag)
	}
	if !create && !strings.Contains(uri, "://") {
		if fi, err := os.Stat(uri); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s %s: no such directory", flag, uri)
		}
	}
	st, err := store.Open(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if sameStore(first, st) {
		return nil, fmt.Errorf("%s %s: that is the store itself", flag, uri)
	}
	return st, nil
}

func sameStore(a, b archive.Store) bool {
	switch a := a.(type) {
	case *fs.Store:
		b, ok := b.(*fs.Store)
		return ok && a.Root() == b.Root()
	case *s3.Store:
		b, ok := b.(*s3.Store)
		return ok && a.Bucket() == b.Bucket() && a.Client().EndpointURL().String() == b.Client().EndpointURL().String()
	}
	return false
}

// runCopy runs a backup or restore with a progress bar on a terminal's
// standard error and a summary there, the report on standard output with
// --json; conflicts exit 1.
func runCopy(cmd *cobra.Command, what string, asJSON bool, copy func(archive.CopyOptions) (*archive.CopyReport, error)) error {
	var bar *progressbar.ProgressBar
	opts := archive.CopyOptions{Progress: func(done, total int) {
		if bar == nil {
			bar = newProgress(cmd.ErrOrStderr(), total, what)
		}
		if bar != nil {
			_ = bar.Set(done)
		}
	}}
	rep, err := copy(opts)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(cmd.ErrOrStderr())
	}
	var ne *archive.NotEmptyError
	if errors.As(err, &ne) || errors.Is(err, archive.ErrEmptySource) {
		return err
	}
	if rep != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d versions: %d copied (%d bytes), %d already there, %d retention dates and %d legal holds applied, %d vanished, %d conflicts\n",
			what, rep.Versions, rep.Copied, rep.Bytes, rep.Present, rep.Retained, rep.Held, rep.Vanished, len(rep.Conflicts))
	}
	if err != nil {
		return fmt.Errorf("%s stopped (run it again to continue): %w", what, err)
	}
	if asJSON {
		if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
			return err
		}
	}
	for _, c := range rep.Conflicts {
		fmt.Fprintf(cmd.ErrOrStderr(), "  CONFLICT %s: %s\n", c.Key, c.Reason)
	}
	if !rep.OK() {
		return &exitError{code: 1}
	}
	return nil
}
