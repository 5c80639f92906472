package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/spf13/cobra"

	"eseal/seal"
)

func newDemoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Initialise DIR if needed, stamp a sample approval PDF and verify it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			var sealID string
			store, err := g.openStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			if ok, err := initialised(cmd.Context(), store); err != nil {
				return err
			} else if !ok {
				res, err := initDataDir(cmd, g, "浙江省某市行政审批服务局", "")
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "Initialised %s.\n", g.dir)
				res.printKeys(w)
				sealID = res.SealID
			}
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			if sealID == "" {
				seals, err := reg.List(cmd.Context())
				if err != nil {
					return err
				}
				for _, s := range seals {
					if s.Status == seal.Active {
						sealID = s.ID
						break
					}
				}
				if sealID == "" {
					return errors.New("no active seal in " + g.dir)
				}
			}
			stamp := time.Now().Format("20060102-150405")
			in := filepath.Join(g.dir, "demo-"+stamp+".pdf")
			out := filepath.Join(g.dir, "demo-"+stamp+"-sealed.pdf")
			if err := os.WriteFile(in, samplePDF(reg.Info().Name), 0o644); err != nil {
				return err
			}
			res, err := stampFile(cmd.Context(), reg, in, out, seal.SignRequest{
				SealID:    sealID,
				Placement: seal.Placement{Page: 1, XMM: 118, YMM: 176},
				Reason:    "行政许可决定", Location: reg.Info().Name,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Stamped %s with seal %s (%s) → %s\n\n", in, res.SealName, res.SealID, out)
			trust, err := reg.TrustStore(cmd.Context())
			if err != nil {
				return err
			}
			sf, size, err := openPDF(out)
			if err != nil {
				return err
			}
			defer sf.Close()
			v := &seal.Verifier{Trust: trust, Registry: reg}
			rep, err := v.VerifyPDF(cmd.Context(), sf, size)
			if err != nil {
				return err
			}
			printReport(w, out, rep)
			if rep.Verdict != seal.Valid {
				return &exitError{1, fmt.Errorf("the demo document verified %s", rep.Verdict)}
			}
			return nil
		},
	}
}

// samplePDF writes a one-page A4 行政许可决定书 in Chinese, with the
// non-embedded Adobe-GB1 font STSong-Light that every CJK-capable reader has.
func samplePDF(org string) []byte {
	lines := []struct {
		x, y, size float64
		text       string
	}{
		{170, 770, 22, "行政许可决定书"},
		{215, 740, 11, "浙审批许〔2026〕第0001号"},
		{72, 700, 12, "申请人：某某科技有限公司"},
		{72, 670, 12, "你单位提交的行政许可申请，经审查，符合法定条件、标准，"},
		{72, 650, 12, "根据《中华人民共和国行政许可法》第三十八条第一款的规定，"},
		{72, 630, 12, "决定准予行政许可。"},
		{72, 600, 12, "本决定书使用电子印章，实行一章一授权，每一次盖章都需要负责人授权。"},
		{72, 580, 12, "可通过取件码在线下载并验证，无需到窗口领取（零上门）。"},
		{330, 300, 12, org},
		{360, 278, 12, "（盖章）"},
		{350, 256, 12, "二〇二六年十一月二十二日"},
	}
	var content strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&content, "BT /F1 %g Tf %g %g Td <%s> Tj ET\n", l.size, l.x, l.y, ucs2Hex(l.text))
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
		"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R /DW 1000 >>",
		"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
		"<< /Producer (eseal demo) /Title <" + utf16Hex("行政许可决定书") + "> >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, len(objs), xref)
	return b.Bytes()
}

// ucs2Hex encodes text for the UniGB-UCS2-H CMap (UCS-2 big endian).
func ucs2Hex(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}

// utf16Hex encodes a PDF text string as UTF-16BE with a byte order mark.
func utf16Hex(s string) string {
	var b strings.Builder
	b.WriteString("FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}
