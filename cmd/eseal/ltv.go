package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"eseal/seal"
)

func newLTVCmd(g *globals) *cobra.Command {
	var in, out, tsaURL string
	var archiveTS bool
	cmd := &cobra.Command{
		Use:   "ltv --in IN.pdf --out OUT.pdf [--archive-timestamp [--tsa URL]]",
		Short: "Add long-term validation data (a /DSS revision) and, with --archive-timestamp, a document timestamp",
		Long: `Add to a PDF stamped with this organisation's seals the certificates and
CRL that validate its signatures later (a /DSS revision, as stamp --ltv
does), then, with --archive-timestamp, a document timestamp over the whole
file: /Type /DocTimeStamp /SubFilter /ETSI.RFC3161, an RFC 3161 token from
the embedded TSA (or --tsa URL) over the SM3 of every byte before it. With
a signature timestamp this is PAdES B-LTA. Run it again before the last
timestamp's TSA certificate expires to renew the proof; a document already
carrying a /DSS gains the newest CRL.

Both are incremental updates: the input stays a prefix of the output and
every earlier signature stays valid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == out {
				return fmt.Errorf("--out must differ from --in: a signed file is never rewritten in place")
			}
			if tsaURL != "" && !archiveTS {
				return fmt.Errorf("--tsa goes with --archive-timestamp")
			}
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			f, size, err := openPDF(in)
			if err != nil {
				return err
			}
			defer f.Close()
			var update []byte
			if archiveTS {
				src, err := timestampSource(cmd.Context(), reg, true, tsaURL)
				if err != nil {
					return err
				}
				update, err = seal.AddArchiveTimestamp(cmd.Context(), reg, src, f, size)
				if err != nil {
					return fmt.Errorf("%s: %w", in, err)
				}
			} else if update, err = seal.AddLTV(cmd.Context(), reg, f, size); err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			return writeStamped(out, f, size, update)
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "input PDF, stamped with this organisation's seals")
	cmd.Flags().StringVar(&out, "out", "", "output PDF (must not exist)")
	cmd.Flags().BoolVar(&archiveTS, "archive-timestamp", false, "add a document timestamp after the validation data (PAdES B-LTA)")
	cmd.Flags().StringVar(&tsaURL, "tsa", "", "with --archive-timestamp: the TSA URL instead of the embedded TSA")
	for _, f := range []string{"in", "out"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}
