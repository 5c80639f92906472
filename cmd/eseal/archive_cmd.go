package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"eseal/archive"
	"eseal/seal"
)

func newArchiveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "archive", Short: "Archivists' tools: fixity, legal hold, audit log"}
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	fixity := &cobra.Command{
		Use:   "fixity",
		Short: "Re-hash every stored document against its record (exit 1 on any mismatch)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := g.openService(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var bar *progressbar.ProgressBar
			progress := func(done, total int) {
				if bar == nil {
					bar = newProgress(total, "fixity")
				}
				if bar != nil {
					_ = bar.Set(done)
				}
			}
			skip := func(id string) bool {
				rec, err := svc.Record(ctx, id)
				if err != nil {
					return false // unreadable records are reported by the check itself
				}
				ok, err := svc.Committed(ctx, rec)
				return err == nil && !ok
			}
			rep, err := archive.Fixity(ctx, svc.Store, time.Now, skip, progress)
			if err != nil {
				return err
			}
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			if err := archive.SaveFixityReport(ctx, svc.Store, rep); err != nil {
				return fmt.Errorf("saving the fixity report: %w", err)
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "fixity: %d documents, %d bytes, %d problems, %s\n", rep.Documents, rep.Bytes, len(rep.Problems), rep.Finished.Sub(rep.Started).Round(time.Millisecond))
				for _, p := range rep.Problems {
					fmt.Fprintf(w, "  FAIL %s %s: %s\n", p.DocumentID, p.Key, p.Reason)
				}
			}
			if !rep.OK() {
				return &exitError{code: 1}
			}
			return nil
		},
	}

	holdCmd := func(use string, on bool, short string) *cobra.Command {
		var reason string
		c := &cobra.Command{
			Use: use + " DOCUMENT_ID --reason TEXT", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				svc, err := g.openService(cmd.Context())
				if err != nil {
					return err
				}
				ev, err := svc.SetLegalHold(cmd.Context(), args[0], on, reason, "cli")
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), ev)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: legal hold %v (%s)\n", args[0], on, reason)
				return nil
			},
		}
		c.Flags().StringVar(&reason, "reason", "", "why (kept with the document; required)")
		_ = c.MarkFlagRequired("reason")
		return c
	}
	cmd.AddCommand(fixity,
		holdCmd("hold", true, "Put a document on legal hold: it cannot be deleted whatever its retention"),
		holdCmd("release", false, "Release a document's legal hold"))
	return cmd
}

// openService opens the stamping service on the data directory's store.
func (g *globals) openService(ctx context.Context) (*seal.Service, error) {
	reg, store, err := g.openRegistry(ctx)
	if err != nil {
		return nil, err
	}
	return &seal.Service{Registry: reg, Store: store, Application: "eseal"}, nil
}

// newProgress returns a progress bar on stderr when it is a terminal, nil
// when output is piped.
func newProgress(total int, what string) *progressbar.ProgressBar {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
}
