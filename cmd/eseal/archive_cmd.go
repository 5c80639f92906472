package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/lifecycle"
	"eseal/seal"
)

func newArchiveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "archive", Short: "Archivists' tools: fixity, legal hold, audit log"}
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	fixity := &cobra.Command{
		Use:   "fixity",
		Short: "Re-hash every document, verify its evidence, reconcile the store with the use markers and the audit log (exit 1 on any problem)",
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
					bar = newProgress(cmd.ErrOrStderr(), total, "fixity")
				}
				if bar != nil {
					_ = bar.Set(done)
				}
			}
			rep, err := svc.Fixity(ctx, progress)
			if err != nil {
				return err
			}
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(cmd.ErrOrStderr())
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
					fmt.Fprint(w, "  FAIL")
					if p.DocumentID != "" {
						fmt.Fprintf(w, " %s", p.DocumentID)
					}
					if p.AuthorizationID != "" {
						fmt.Fprintf(w, " authorization %s", p.AuthorizationID)
					}
					fmt.Fprintf(w, " %s (%s): %s\n", p.Key, p.Kind, p.Reason)
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
				ev, err := svc.Documents().SetLegalHold(cmd.Context(), args[0], on, reason, "cli")
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
	due := &cobra.Command{
		Use: "due", Short: "List documents whose retention has ended and that are not on hold", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := g.openService(cmd.Context())
			if err != nil {
				return err
			}
			recs, err := svc.Documents().DueForDisposal(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), recs)
			}
			for _, r := range recs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s  %s  retained until %s\n", r.DocumentID, r.Retention, r.Title, r.RetainUntil.Format(time.DateOnly))
			}
			return nil
		},
	}
	var req lifecycle.DisposalRequest
	var witnesses []string
	dispose := &cobra.Command{
		Use:   "dispose DOCUMENT_ID... --approval ID --witness NAME --witness NAME",
		Short: "Destroy documents past retention: needs the approval and two witnesses; keeps tombstones and a register",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(witnesses) != 2 {
				return fmt.Errorf("give exactly two --witness")
			}
			svc, err := g.openService(cmd.Context())
			if err != nil {
				return err
			}
			req.DocumentIDs, req.Witnesses, req.By = args, [2]string{witnesses[0], witnesses[1]}, "cli"
			reg, err := svc.Documents().Dispose(cmd.Context(), req)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), reg)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "disposal %s: %d documents destroyed (%d bytes); register and tombstones kept\n", reg.ID, len(reg.Documents), reg.Bytes)
			return nil
		},
	}
	dispose.Flags().StringVar(&req.ApprovalID, "approval", "", "id of the disposal approval (required)")
	dispose.Flags().StringArrayVar(&witnesses, "witness", nil, "a witness (give two, distinct)")
	_ = dispose.MarkFlagRequired("approval")

	auditCmd := &cobra.Command{Use: "audit", Short: "The tamper-evident audit log"}
	auditCmd.AddCommand(&cobra.Command{
		Use: "verify", Short: "Check every shard's hash chain and every signed checkpoint; name the first broken entry (exit 1)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, store, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			cert, err := reg.AuditCertificate(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := audit.Verify(cmd.Context(), store, cert.PublicKey)
			if err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else if rep.OK() {
				fmt.Fprintf(cmd.OutOrStdout(), "audit log OK: %d entries in %d shards, %d checkpoints\n", rep.Entries, rep.Shards, rep.Checkpoints)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "audit log BROKEN: first problem: %v\n", rep.First())
				for _, p := range rep.Problems[1:] {
					fmt.Fprintf(cmd.OutOrStdout(), "  also: %v\n", p)
				}
			}
			if !rep.OK() {
				return &exitError{code: 1}
			}
			return nil
		},
	}, &cobra.Command{
		Use: "checkpoint", Short: "Sign a checkpoint over every shard now", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := g.openRegistry(cmd.Context()); err != nil {
				return err
			}
			cp, err := g.auditLog.Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "checkpoint %s over %d shards\n", cp.Key, len(cp.Shards))
			return nil
		},
	})

	cmd.AddCommand(newTransferCmds(g)...)
	cmd.AddCommand(newBackupCmds(g, &asJSON)...)
	cmd.AddCommand(auditCmd, fixity, due, dispose,
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

// newProgress returns a progress bar on w when it is a terminal, nil when
// output is piped or captured.
func newProgress(w io.Writer, total int, what string) *progressbar.ProgressBar {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
}
