package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"eseal/archive"
	"eseal/archive/index"
	"eseal/seal"
)

// indexPath is where this replica keeps its search index: the given path,
// else ESEAL_INDEX, else DIR/index.db. Replicas sharing a data directory on
// one host may share the file (SQLite locks it); each can have its own.
func (g *globals) indexPath(configured string) string {
	if configured != "" {
		return configured
	}
	if p := os.Getenv("ESEAL_INDEX"); p != "" {
		return p
	}
	return filepath.Join(g.dir, "index.db")
}

// openIndex opens the search index at path, rebuilding it from the store
// when it is missing or unreadable, with progress on w.
func openIndex(ctx context.Context, path string, store archive.Store, readRecord func(context.Context, string) (*archive.Record, error), w io.Writer, log *slog.Logger) (*index.Index, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	p := newIndexProgress(w)
	ix, err := index.Open(ctx, path, store, index.Options{ReadRecord: readRecord, Progress: p.report, Log: log})
	if err != nil {
		return nil, fmt.Errorf("search index %s: %w", path, err)
	}
	p.finish()
	return ix, nil
}

// indexProgress reports a rebuild: a bar on a terminal, else a line at
// every tenth and at the end.
type indexProgress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	started  time.Time
	total    int
	done     int
	lastTick int
}

func newIndexProgress(w io.Writer) *indexProgress { return &indexProgress{w: w} }

func (p *indexProgress) report(done, total int) {
	if p.started.IsZero() {
		p.started, p.total, p.lastTick = time.Now(), total, -1
		p.bar = newProgress(p.w, total, "index")
		if p.bar == nil {
			fmt.Fprintf(p.w, "eseal: rebuilding the search index from the store: %d records\n", total)
		}
	}
	p.done = done
	if p.bar != nil {
		_ = p.bar.Set(done)
		return
	}
	if total > 0 {
		if tick := done * 10 / total; tick > p.lastTick && done > 0 {
			p.lastTick = tick
			fmt.Fprintf(p.w, "eseal: indexed %d/%d records\n", done, total)
		}
	}
}

// finish ends the report of a rebuild, if one was made.
func (p *indexProgress) finish() {
	if p.started.IsZero() {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "eseal: search index rebuilt: %d records in %s\n", p.done, time.Since(p.started).Round(time.Millisecond))
}

func newIndexCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "index", Short: "The search index: a view of the archive each replica keeps, rebuilt from the store at will"}
	var path string
	cmd.PersistentFlags().StringVar(&path, "index", "", "index file (default DIR/index.db; env ESEAL_INDEX)")
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild the search index from the store (progress on stderr); a running serve keeps answering meanwhile",
		Long: `Rebuild the search index from the store: every committed record, its legal
hold, and the end of every audit log shard, from which serve follows the log.

The index is a view derived from the store, never the source of truth: a lost
or damaged index costs this rebuild and nothing else (serve also rebuilds a
missing one at start-up). A serve using the same file keeps answering from the
old index until the rebuild commits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reg, store, err := g.openRegistryReadOnly(ctx)
			if err != nil {
				return err
			}
			svc := &seal.Service{Registry: reg, Store: store, Application: "eseal"}
			p := g.indexPath(path)
			ix, err := openIndex(ctx, p, store, svc.IndexedRecord, cmd.ErrOrStderr(), nil)
			if err != nil {
				return err
			}
			defer ix.Close()
			if !ix.Fresh() {
				prog := newIndexProgress(cmd.ErrOrStderr())
				if err := ix.Rebuild(ctx, prog.report); err != nil {
					return err
				}
				prog.finish()
			}
			n, err := ix.Count(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d records\n", p, n)
			return nil
		},
	}
	cmd.AddCommand(rebuild)
	return cmd
}
