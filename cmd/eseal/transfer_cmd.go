package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/spf13/cobra"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/pdf"
	"eseal/seal"
)

// newTransferCmds returns `archive transfer` and `archive check`, to be
// added to the archive command: cmd.AddCommand(newTransferCmds(g)...).
// Both read the archive command's persistent --json flag.
func newTransferCmds(g *globals) []*cobra.Command {
	var (
		f        transfer.Filter
		ret      string
		out      string
		fonds    string
		unitID   string
		receiver string
		id       string
	)
	tr := &cobra.Command{
		Use:   "transfer [--year Y] [--retention C] [--item-code X] [--case-no N] --fonds CODE --out PKG.zip",
		Short: "Write a transfer package (DA/T 93, BagIt) of the committed records a filter selects",
		Long: `Select the committed records of a year, retention class, item code or case
number, check each against its record and verify its seals, and write one ZIP
that is a BagIt bag (manifests in SM3 and SHA-256) laid out as DA/T 93 asks:
description, catalogue, one folder per item named by its reference code
(档号 FONDS-YEAR-RETENTION-ITEM-SEQUENCE) with the signed PDF and its DA/T 46
metadata, and a transfer register signed with the organisation's SM2 key.
The package is written beside --out and renamed only when complete; an
existing --out is never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ret != "" {
				c, err := archive.ParseRetentionClass(ret)
				if err != nil {
					return err
				}
				f.Retention = c
			}
			if fonds == "" {
				fonds = os.Getenv("ESEAL_FONDS")
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists; choose another --out", out)
			}
			svc, err := g.openService(ctx)
			if err != nil {
				return err
			}
			u, err := svc.Registry.Unit(ctx, unitID)
			if err != nil {
				return err
			}
			f.UnitTag = u.Tag()
			if u.Fonds != "" && fonds == "" {
				fonds = u.Fonds
			}
			recs, err := transfer.Select(ctx, svc.Documents(), f)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return errors.New("no committed record matches the filter")
			}
			sign, chain, err := svc.Registry.RegisterSigner(ctx)
			if err != nil {
				return err
			}
			ts, err := svc.Registry.TrustStore(ctx)
			if err != nil {
				return err
			}
			opts := transfer.Options{
				Store: svc.Store, Rule: transfer.Rule{Fonds: fonds}, Organisation: u.Name,
				Receiver: receiver, PackageID: id, Content: describeFilter(f), Sign: sign, SignerChain: chain,
				Verify: verifyFunc(&seal.Verifier{Trust: ts, Registry: svc.Registry}), TempDir: filepath.Dir(out),
				Inspect: inspectPDF, Evidence: svc.Registry.TransferEvidence,
			}
			if err := opts.Rule.Validate(); err != nil {
				return fmt.Errorf("%w (set --fonds or ESEAL_FONDS)", err)
			}
			bar := newProgress(cmd.ErrOrStderr(), len(recs), "transfer")
			if bar != nil {
				opts.Progress = func(done, _ int) { _ = bar.Set(done) }
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), ".eseal-transfer-*.zip")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			pkg, err := transfer.Write(ctx, tmp, recs, opts)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			// Link, not rename: never replace a file that appeared meanwhile.
			if err := os.Link(tmp.Name(), out); err != nil {
				return err
			}
			logTransfer(ctx, svc.Registry, recs, pkg, "cli")
			if jsonFlag(cmd) {
				return printJSON(cmd.OutOrStdout(), pkg)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: package %s, %d items (%s — %s), %d bytes of items, SM3 %s\n",
				out, pkg.ID, pkg.Items, pkg.First, pkg.Last, pkg.ItemBytes, pkg.Digest)
			return nil
		},
	}
	tr.Flags().IntVar(&f.Year, "year", 0, "records of this year (China time)")
	tr.Flags().StringVar(&ret, "retention", "", "retention class: permanent, 30y or 10y")
	tr.Flags().StringVar(&f.ItemCode, "item-code", "", "item code (事项编码)")
	tr.Flags().StringVar(&f.CaseNo, "case-no", "", "case number (办件编号)")
	tr.Flags().StringVar(&out, "out", "", "the package to write (.zip)")
	tr.Flags().StringVar(&fonds, "fonds", "", "fonds code (全宗号) of the reference codes (default: the unit's; env ESEAL_FONDS)")
	tr.Flags().StringVar(&unitID, "unit", "", "the unit whose records are transferred, u-… (default: the first unit)")
	tr.Flags().StringVar(&receiver, "receiver", "", "receiving archive (接收单位)")
	tr.Flags().StringVar(&id, "id", "", "package id (default FONDS-YYYYMMDDTHHMMSSZ)")
	_ = tr.MarkFlagRequired("out")

	var roots, scanner string
	ck := &cobra.Command{
		Use:   "check PKG.zip [--roots ROOTS.pem] [--scanner CMD]",
		Short: "Four-property check (DA/T 70) of a transfer package (exit 1 on any fail)",
		Long: `Check a transfer package offline: BagIt manifests (SM3, SHA-256) and
Payload-Oxum, the register's signature and package digest, the catalogue
against the item folders, counts, volume and reference-code continuity, each
item's metadata, format, readability, encryption and seals, and each seal's
authorization evidence (the SM2 signature over the approved grant bytes with
the certificate the package carries; an API key's grant is a warning). Prints pass, warn,
fail or manual per check item; a check that could not run is never a pass.

Trust comes from --roots (PEM roots and CRLs) or the data directory's
organisation; with neither, signatures are left "manual". --scanner runs a
malware scanner once per payload file with the file on standard input (for
example "clamdscan --no-summary -"): exit 0 clean, 1 infected, else an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			opts := transfer.CheckOptions{Inspect: inspectPDF, VerifyEvidence: seal.VerifyEvidenceSignature, VerifyPasskey: seal.VerifyPasskeyEvidence}
			var ts *keys.TrustStore
			var err error
			if roots != "" {
				if ts, err = trustFromPEM(roots); err != nil {
					return err
				}
				opts.Verify = verifyFunc(&seal.Verifier{Trust: ts})
			} else if reg, store, rerr := g.openRegistryReadOnly(ctx); rerr == nil {
				if ts, err = reg.TrustStore(ctx); err != nil {
					return err
				}
				opts.Verify = verifyFunc(&seal.Verifier{Trust: ts, Registry: reg})
				opts.Audit = auditLookup(store)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "eseal: no --roots and no organisation (%v): signatures will be checked by hand\n", rerr)
			}
			if ts != nil {
				opts.VerifySig = registerVerifier(ts)
			}
			if scanner != "" {
				opts.Scan = scanCommand(strings.Fields(scanner))
			}
			file, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer file.Close()
			fi, err := file.Stat()
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), 0, "check")
			if bar != nil {
				opts.Progress = func(done, total int) { bar.ChangeMax(total); _ = bar.Set(done) }
			}
			rep, err := transfer.Check(ctx, file, fi.Size(), opts)
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				printCheckReport(cmd.OutOrStdout(), args[0], rep)
			}
			if !rep.OK() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	ck.Flags().StringVar(&roots, "roots", "", "PEM file of trusted root certificates (and CRLs) instead of the data directory")
	ck.Flags().StringVar(&scanner, "scanner", "", "malware scanner command reading a file on standard input")
	return []*cobra.Command{tr, ck}
}

func jsonFlag(cmd *cobra.Command) bool {
	v, err := cmd.Flags().GetBool("json")
	return err == nil && v
}

func describeFilter(f transfer.Filter) string {
	var parts []string
	if f.Year != 0 {
		parts = append(parts, fmt.Sprintf("年度 %d", f.Year))
	}
	if f.Retention != "" {
		parts = append(parts, "保管期限 "+transfer.RetentionNames[f.Retention])
	}
	if f.ItemCode != "" {
		parts = append(parts, "事项编码 "+f.ItemCode)
	}
	if f.CaseNo != "" {
		parts = append(parts, "办件编号 "+f.CaseNo)
	}
	if len(parts) == 0 {
		return ""
	}
	return "按 " + strings.Join(parts, "、") + " 选取的电子档案"
}

// verifyFunc adapts the seal verifier to the transfer package.
func verifyFunc(v *seal.Verifier) transfer.VerifyFunc {
	return func(ctx context.Context, r io.ReaderAt, size int64) (string, string, error) {
		rep, err := v.VerifyPDF(ctx, r, size)
		if err != nil {
			return "", "", err
		}
		return string(rep.Verdict), strings.Join(rep.Reasons, "; "), nil
	}
}

// inspectPDF gives the transfer package's usability checks pdf.Inspect.
func inspectPDF(r io.ReaderAt, size int64) transfer.Inspection {
	return transfer.Inspection(pdf.Inspect(r, size))
}

// registerVerifier checks a register signature: the chain up to a trusted
// root, for signing, then the SM2 signature.
func registerVerifier(ts *keys.TrustStore) func(chain [][]byte, msg, sig []byte) error {
	return func(chain [][]byte, msg, sig []byte) error {
		var certs []*smx509.Certificate
		for _, der := range chain {
			c, err := smx509.ParseCertificate(der)
			if err != nil {
				return err
			}
			certs = append(certs, c)
		}
		if _, err := ts.Verify(certs[0], certs[1:], time.Now(), keys.UsageSign); err != nil {
			return err
		}
		if !keys.VerifySM2(certs[0].PublicKey, msg, sig) {
			return errors.New("the SM2 signature does not verify with the signer certificate")
		}
		return nil
	}
}

// logTransfer appends one record.transferred entry per item to the audit log.
func logTransfer(ctx context.Context, reg *seal.Registry, recs []archive.Record, pkg *transfer.Package, actor string) {
	for _, r := range recs {
		reg.LogEvent(ctx, seal.AuditEvent{Action: audit.RecordTransferred, Subject: r.DocumentID, Actor: actor,
			Details: map[string]string{"package": pkg.ID, "digest_sm3": pkg.Digest}})
	}
}

// auditLookup finds a package's record.transferred entries in the store's
// audit log.
func auditLookup(store archive.Store) func(ctx context.Context, id, digest string) (bool, string, error) {
	return func(ctx context.Context, id, digest string) (bool, string, error) {
		n := 0
		err := audit.Entries(ctx, store, func(e audit.Entry) error {
			if e.Action == audit.RecordTransferred && e.Details["package"] == id && e.Details["digest_sm3"] == digest {
				n++
			}
			return nil
		})
		if err != nil {
			return false, "", err
		}
		return n > 0, fmt.Sprintf("%d record.transferred entries for package %s", n, id), nil
	}
}

// scanCommand runs a scanner once per file, the file on standard input.
func scanCommand(argv []string) func(ctx context.Context, name string, r io.Reader) (bool, string, error) {
	return func(ctx context.Context, name string, r io.Reader) (bool, string, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdin = r
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return true, "", nil
		case errors.As(err, &ee) && ee.ExitCode() == 1:
			return false, strings.TrimSpace(string(out)), nil
		default:
			return false, "", fmt.Errorf("%s: %v: %s", argv[0], err, strings.TrimSpace(string(out)))
		}
	}
}

func printCheckReport(w io.Writer, name string, rep *transfer.CheckReport) {
	c := rep.Counts()
	verdict := "PASSED"
	if !rep.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s — package %s, %d items; %d pass, %d warn, %d fail, %d manual\n",
		name, verdict, rep.Package, rep.Items, c[transfer.Pass], c[transfer.Warn], c[transfer.Fail], c[transfer.Manual])
	shown := map[string]int{}
	for _, r := range rep.Rows {
		if r.DocRef == "" {
			fmt.Fprintf(w, "  %-6s %s %s: %s\n", strings.ToUpper(string(r.Result)), r.Property, r.Item, r.Detail)
			continue
		}
		if shown[r.Check]++; shown[r.Check] <= 20 {
			fmt.Fprintf(w, "         %-6s %s: %s\n", r.Result, r.DocRef, r.Detail)
		} else if shown[r.Check] == 21 {
			fmt.Fprintf(w, "         … more in --json\n")
		}
	}
}
