package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"eseal/archive/audit"
	"eseal/keys/tsa"
	"eseal/seal"
)

func newStampCmd(g *globals) *cobra.Command {
	var req seal.SignRequest
	var in, out, tsaURL string
	var useTSA, requireTS bool
	var pages, profile string
	cmd := &cobra.Command{
		Use:   "stamp",
		Short: "Stamp a PDF locally with a seal (an incremental update; the input stays a prefix)",
		Long: `Stamp a PDF with a seal, locally, as the seal administrator.

The seal's top-left corner is placed --x/--y millimetres from the top-left
corner of the page as it is displayed (CropBox and /Rotate honoured). The
output is the input followed by one incremental update carrying the seal
picture and an SM2/SM3 signature. Per-use authorizations apply to the REST
path; this command is for the holder of the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == out {
				return fmt.Errorf("--out must differ from --in: a signed file is never rewritten in place")
			}
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			if pages != "" {
				if !req.Placement.CrossPage {
					return fmt.Errorf("--pages goes with --cross-page")
				}
				if _, err := fmt.Sscanf(pages, "%d-%d", &req.Placement.FirstPage, &req.Placement.LastPage); err != nil || req.Placement.FirstPage < 1 || req.Placement.LastPage < req.Placement.FirstPage {
					return fmt.Errorf("--pages %q: want A-B with 1 ≤ A ≤ B", pages)
				}
			}
			if req.Placement.CrossPage && !cmd.Flags().Changed("y") {
				req.Placement.YMM = 0 // centred on the page's height
			}
			if req.Profile, err = seal.ParseProfile(profile); err != nil {
				return err
			}
			if req.Timestamps, err = timestampSource(cmd.Context(), reg, useTSA, tsaURL); err != nil {
				return err
			}
			req.RequireTimestamp = requireTS
			res, err := stampFile(cmd.Context(), reg, in, out, req)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "eseal: warning: %s (the TSA did not answer; stamped without a timestamp)\n", w)
			}
			reg.LogEvent(cmd.Context(), seal.AuditEvent{Action: audit.DocumentStamped, Subject: "local:" + filepath.Base(out), Actor: "cli",
				Details: map[string]string{"seal": res.SealID, "signed_sm3": hex.EncodeToString(res.ContentSM3), "signing_time": res.SigningTime.Format(time.RFC3339)}})
			return nil
		},
	}
	cmd.Flags().StringVar(&req.SealID, "seal", "", "seal id (see `eseal seal list`)")
	cmd.Flags().StringVar(&in, "in", "", "input PDF")
	cmd.Flags().StringVar(&out, "out", "", "output PDF (must not exist)")
	cmd.Flags().IntVar(&req.Placement.Page, "page", 1, "page number, from 1")
	cmd.Flags().Float64Var(&req.Placement.XMM, "x", 20, "millimetres from the visible page's left edge to the seal's left edge")
	cmd.Flags().Float64Var(&req.Placement.YMM, "y", 20, "millimetres from the visible page's top edge to the seal's top edge")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "reason written into the signature")
	cmd.Flags().StringVar(&req.Location, "location", "", "location written into the signature")
	cmd.Flags().StringVar(&req.Placement.Keyword, "keyword", "", "centre the seal on this text instead of --x/--y (e.g. 盖章)")
	cmd.Flags().IntVar(&req.Placement.Nth, "nth", 1, "with --keyword: which occurrence, from 1")
	cmd.Flags().Float64Var(&req.Placement.DXMM, "dx", 0, "with --keyword: shift right by this many millimetres")
	cmd.Flags().Float64Var(&req.Placement.DYMM, "dy", 0, "with --keyword: shift down by this many millimetres")
	cmd.Flags().BoolVar(&req.Placement.CrossPage, "cross-page", false, "骑缝章: cut the seal into strips at the right edge of every page (or --pages A-B)")
	cmd.Flags().StringVar(&pages, "pages", "", "with --cross-page: the page range A-B")
	cmd.Flags().BoolVar(&useTSA, "timestamp", false, "add an RFC 3161 timestamp from the embedded TSA")
	cmd.Flags().StringVar(&tsaURL, "tsa", "", "add an RFC 3161 timestamp from this TSA URL instead")
	cmd.Flags().BoolVar(&requireTS, "require-timestamp", false, "fail instead of stamping without a timestamp when the TSA is down")
	cmd.Flags().StringVar(&profile, "profile", "cms", "signature format: cms (adbe.pkcs7.detached), pades (ETSI.CAdES.detached, PAdES baseline: B-T with --timestamp, B-LT with --ltv, B-LTA with `eseal ltv --archive-timestamp`) or ses (a GB/T 38540 SES_Signature in /Contents, timestamped with --timestamp)")
	cmd.Flags().BoolVar(&req.Certify, "certify", false, "make this, the document's first seal, a certification signature (DocMDP P=2: later only form filling and further seals)")
	cmd.Flags().BoolVar(&req.LTV, "ltv", false, "append the certificates and CRL that validate the signature later (a /DSS revision)")
	for _, f := range []string{"seal", "in", "out"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// stampFile stamps the PDF at in and writes input ‖ update to out.
func stampFile(ctx context.Context, reg *seal.Registry, in, out string, req seal.SignRequest) (*seal.Signed, error) {
	f, size, err := openPDF(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := (&seal.Stamper{Registry: reg}).Stamp(ctx, f, size, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	return res, writeStamped(out, f, size, res.Update)
}

// openPDF opens a file for reading with its size.
func openPDF(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// writeStamped writes input ‖ update to out atomically: a temporary file in the
// same directory, synced, then renamed without replacing an existing file.
func writeStamped(out string, in *os.File, size int64, update []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".eseal-stamp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := in.Seek(0, 0); err != nil {
		return err
	}
	n, err := tmp.ReadFrom(in)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("input changed while stamping (%d bytes, expected %d)", n, size)
	}
	if _, err := tmp.Write(update); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a signed PDF is for sharing.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), out); err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("%s exists; not overwriting it", out)
		}
		return err
	}
	return nil
}

// timestampSource picks the TSA for --timestamp / --tsa URL, or none.
func timestampSource(ctx context.Context, reg *seal.Registry, embedded bool, url string) (seal.TimestampSource, error) {
	switch {
	case url != "":
		return &tsa.Client{URL: url}, nil
	case embedded:
		srv, err := reg.TSA(ctx)
		if err != nil {
			return nil, err
		}
		return seal.EmbeddedTSA{Server: srv}, nil
	}
	return nil, nil
}
