package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"eseal/keys"
	"eseal/seal"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var roots, at, out, data string
	var asJSON bool
	var signedRevision int
	cmd := &cobra.Command{
		Use:   "verify [--dir DIR | --roots ROOTS.pem] [--at TIME] [--json] [--signed-revision N --out FILE] FILE.pdf | SEAL.der | SIGNATURE.dat [--data FILE]",
		Short: "Verify every seal in a PDF, or a GB/T 38540 seal or seal signature file (exit 0 VALID, 1 INVALID, 2 INDETERMINATE, 3 error)",
		Long: `Verify every signature in a PDF in the order of GB/T 38540: the signed
byte range and what later revisions changed, the CMS signature, the signer
certificate chain at signing time and its revocation, the seal maker's
signature, the seal's validity and status, and that the signer is listed in
the seal.

Trust comes from the data directory's organisation CA (--dir) or from a PEM
file of root certificates (--roots); with --roots, CRLs may follow the roots in
the same file as "X509 CRL" blocks. Certificates and CRLs that the PDF carries
in its document security store (stamp --ltv) are used as well, so that a
timestamped signature still verifies once its certificate has expired.

--at gives the time the verdict is for (RFC 3339, or YYYY-MM-DD for the start
of that day in local time): revocations dated after it do not count.

Every revision added after a signature is listed with what it adds (the
annotation's type, page and rectangle, whether it covers signed text or a
seal); a signature followed only by additions it allows is "VALID, with
changes after signing". --signed-revision N --out FILE writes the document
as revision N left it — the bytes a signature of revision N signed — so
that version can be opened and compared.

A file that is not a PDF is read as a GB/T 38540 structure on its own
(.der, .dat, .esl): an SES_Signature — checked as in a PDF, with --data FILE
the bytes it signs (a PDF whose /ByteRange its propertyInfo names, or any
file whose SM3 is its dataHash, such as an OFD Signature.xml); without
--data its document digest is not checked and it cannot be VALID — or an
SESeal: format, the maker's signature and certificate, the seal's validity
at --at (default now) and its status in the registry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (signedRevision != 0) != (out != "") {
				return &exitError{3, fmt.Errorf("--signed-revision and --out go together")}
			}
			v := &seal.Verifier{}
			var err error
			if at != "" {
				if v.At, err = parseAt(at); err != nil {
					return &exitError{3, err}
				}
			}
			if roots != "" {
				v.Trust, err = trustFromPEM(roots)
			} else {
				var reg *seal.Registry
				reg, _, err = g.openRegistryReadOnly(cmd.Context())
				if err == nil {
					v.Registry = reg
					v.Trust, err = reg.TrustStore(cmd.Context())
				}
			}
			if err != nil {
				return &exitError{3, err}
			}
			f, size, err := openPDF(args[0])
			if err != nil {
				return &exitError{3, err}
			}
			defer f.Close()
			var rep *seal.Report
			if standalone := !looksLikePDF(f); standalone || data != "" {
				if !standalone {
					return &exitError{3, fmt.Errorf("--data goes with an SES_Signature file, not a PDF")}
				}
				if signedRevision != 0 {
					return &exitError{3, fmt.Errorf("--signed-revision is for PDFs")}
				}
				rep, err = verifyStandalone(cmd, v, f, size, data)
			} else {
				rep, err = v.VerifyPDF(cmd.Context(), f, size)
			}
			if err != nil {
				return &exitError{3, err}
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return &exitError{3, err}
				}
			} else {
				printReport(cmd.OutOrStdout(), args[0], rep)
			}
			if signedRevision != 0 {
				if err := writeRevision(f, rep, signedRevision, out); err != nil {
					return &exitError{3, err}
				}
			}
			switch rep.Verdict {
			case seal.Valid:
				return nil
			case seal.Invalid:
				return &exitError{code: 1}
			default:
				return &exitError{code: 2}
			}
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "with an SES_Signature file: the data it signs (a PDF, or any file whose SM3 is its dataHash)")
	cmd.Flags().StringVar(&roots, "roots", "", "PEM file of trusted root certificates (and CRLs) instead of --dir")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&at, "at", "", "verify as of this time: RFC 3339 or YYYY-MM-DD (default now)")
	cmd.Flags().IntVar(&signedRevision, "signed-revision", 0, "with --out: write the document as revision N left it")
	cmd.Flags().StringVar(&out, "out", "", "file to write the revision of --signed-revision to (not overwritten)")
	return cmd
}

// writeRevision writes the first bytes of in up to the end of revision n to
// out, which must not exist yet.
func writeRevision(in io.ReaderAt, rep *seal.Report, n int, out string) error {
	if n < 1 || n > len(rep.RevisionEnds) {
		return fmt.Errorf("--signed-revision %d: the document has %d revision(s)", n, len(rep.RevisionEnds))
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.NewSectionReader(in, 0, rep.RevisionEnds[n-1])); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseAt reads --at: RFC 3339, or a date meaning its first second, local time.
func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-01-02T15:04:05+08:00) or YYYY-MM-DD", s)
}

func trustFromPEM(path string) (*keys.TrustStore, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := keys.ParseCertificatesPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ts := keys.NewTrustStore(certs...)
	for _, crl := range crlsFromPEM(b) {
		if err := ts.AddCRL(crl); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return ts, nil
}

// crlsFromPEM returns the DER of every "X509 CRL" block in a PEM file.
func crlsFromPEM(b []byte) [][]byte {
	var crls [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return crls
		}
		if blk.Type == "X509 CRL" {
			crls = append(crls, blk.Bytes)
		}
	}
}

func printReport(w io.Writer, name string, rep *seal.Report) {
	summary := rep.Summary
	if summary == "" {
		summary = string(rep.Verdict)
	}
	if rep.Revisions == 0 && len(rep.Signatures) <= 1 {
		fmt.Fprintf(w, "%s: %s\n", name, summary) // not a PDF: a seal or seal signature file
	} else {
		fmt.Fprintf(w, "%s: %s (%d signature(s), %d revision(s))\n", name, summary, len(rep.Signatures), rep.Revisions)
	}
	for _, r := range rep.Reasons {
		if len(rep.Signatures) == 0 {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	for _, s := range rep.Signatures {
		when := "unknown time"
		if s.SigningTime != nil {
			when = s.SigningTime.Local().Format(time.DateTime)
		}
		sealName := "no seal"
		if s.Seal != nil {
			sealName = s.Seal.Name
		}
		kind := ""
		if s.Kind == "cross-page" {
			kind = fmt.Sprintf(" (骑缝章 over pages %v)", s.Pages)
		}
		if s.Kind == seal.KindSeal || s.Kind == seal.KindSESignature {
			fmt.Fprintf(w, "\n  %s  %s — %s\n", s.Verdict, s.Kind, sealName)
		} else if s.Kind == seal.KindDocTimestamp {
			fmt.Fprintf(w, "\n  %s  %s — document timestamp, %s, revision %d\n", s.Verdict, s.Field, when, s.Revision)
		} else {
			fmt.Fprintf(w, "\n  %s  %s — %s%s, page %d, signed %s, revision %d\n", s.Verdict, s.Field, sealName, kind, s.Page, when, s.Revision)
		}
		if s.Timestamp != nil {
			fmt.Fprintf(w, "    timestamp %s\n", s.Timestamp.Local().Format(time.DateTime))
		}
		if s.PAdESLevel != "" {
			fmt.Fprintf(w, "    profile %s, PAdES baseline %s\n", s.Profile, s.PAdESLevel)
		} else if s.Profile != "" {
			fmt.Fprintf(w, "    profile %s\n", s.Profile)
		}
		for _, c := range s.Checks {
			mark := map[seal.CheckResult]string{seal.Pass: "ok  ", seal.Fail: "FAIL", seal.Unknown: "??  ", seal.Warn: "warn"}[c.Result]
			fmt.Fprintf(w, "    %s %-24s %s\n", mark, c.Name, strings.TrimSpace(c.Detail))
		}
		if len(s.LaterChanges) > 0 {
			fmt.Fprintf(w, "    after signing:\n")
		}
		for _, lc := range s.LaterChanges {
			fmt.Fprintf(w, "      %s\n", laterChangeLine(lc))
		}
		if len(s.LaterChanges) > 0 && s.Revision > 0 {
			fmt.Fprintf(w, "    as signed: eseal verify --signed-revision %d --out FILE %s\n", s.Revision, name)
		}
	}
}

// laterChangeLine is one line of the report's "after signing" list.
func laterChangeLine(lc seal.LaterChange) string {
	where := fmt.Sprintf("revision %d", lc.Revision)
	if lc.Revision == 0 {
		where = "after the last revision"
	}
	what := lc.Kind
	if lc.Object != 0 {
		what += fmt.Sprintf(" (object %d)", lc.Object)
	}
	verdict := "allowed"
	if !lc.Allowed {
		verdict = "NOT ALLOWED"
	}
	return fmt.Sprintf("%s: %s %s — %s", where, what, lc.Detail, verdict)
}

// looksLikePDF says whether the file starts like a PDF (the header within
// its first KiB, as readers accept it).
func looksLikePDF(f io.ReaderAt) bool {
	head := make([]byte, 1024)
	n, _ := f.ReadAt(head, 0)
	return strings.Contains(string(head[:n]), "%PDF-")
}

// verifyStandalone verifies a GB/T 38540 seal or seal signature file, with
// the data an SES_Signature signs when --data names it.
func verifyStandalone(cmd *cobra.Command, v *seal.Verifier, f io.ReaderAt, size int64, data string) (*seal.Report, error) {
	if size > seal.MaxStandaloneSize {
		return nil, fmt.Errorf("%d bytes: not a PDF, and larger than any seal or seal signature", size)
	}
	der := make([]byte, size)
	if _, err := f.ReadAt(der, 0); err != nil {
		return nil, err
	}
	var sd *seal.StandaloneData
	if data != "" {
		df, dsize, err := openPDF(data)
		if err != nil {
			return nil, err
		}
		defer df.Close()
		sd = &seal.StandaloneData{R: df, Size: dsize}
	}
	return v.VerifyStandalone(cmd.Context(), der, sd)
}
