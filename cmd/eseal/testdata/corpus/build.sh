#!/usr/bin/env bash
# build.sh OUTDIR derives the stamping corpus from the committed seeds with
# qpdf and pdfcpu: the cross-reference forms, object streams, linearization,
# earlier revisions, rotation, crop boxes, forms and CJK text that approval
# systems really send us. Every output must pass `qpdf --check` (no warnings)
# and `pdfcpu validate`, or the script fails. The seeds themselves come from
# `go run ./seedgen -out seeds` (see seedgen/main.go).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
seeds="$here/seeds"
out="$1"
mkdir -p "$out"
export PATH="$HOME/.cache/eseal/bin:$PATH"
for tool in qpdf pdfcpu; do
	command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (run scripts/deps.sh)" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

A="$seeds/approval-a4-cjk.pdf"
U="$seeds/approval-a4-cjk-updated.pdf"
L="$seeds/letter-3p.pdf"
F="$seeds/form-acro.pdf"
P="$seeds/landscape-a4.pdf"
H="$seeds/landscape-a4-hybrid.pdf"

# qpdf with a file identifier derived from the content, so runs repeat.
q() { qpdf --deterministic-id "$@"; }
# pdfcpu without reading or writing a config directory.
pc() { pdfcpu -c disable -q "$@"; }

# Seeds as they are: classic table, hand-appended revision, hybrid file.
cp "$A" "$out/01-approval-classic-flate.pdf"
cp "$U" "$out/02-approval-incremental-update.pdf"
cp "$L" "$out/03-letter-3p-classic-uncompressed.pdf"
cp "$F" "$out/04-form-acroform.pdf"
cp "$P" "$out/05-landscape-classic.pdf"
cp "$H" "$out/06-landscape-hybrid-xrefstm.pdf"

# Cross-reference streams and object streams.
q --object-streams=generate "$A" "$out/07-approval-xrefstream-objstm.pdf"
q --object-streams=generate --compress-streams=n "$L" "$out/08-letter-xrefstream-uncompressed.pdf"
q --object-streams=generate "$F" "$out/09-form-xrefstream-objstm.pdf"
q --object-streams=preserve "$H" "$out/10-landscape-hybrid-rewritten-preserve.pdf"
q --object-streams=disable --stream-data=uncompress "$A" "$out/11-approval-classic-uncompressed.pdf"
q --object-streams=disable --compress-streams=y "$L" "$out/12-letter-classic-flate.pdf"
q --object-streams=disable "$U" "$out/13-approval-update-flattened.pdf"

# Linearized ("fast web view"), with and without object streams.
q --linearize "$A" "$out/14-approval-linearized.pdf"
q --linearize --object-streams=generate "$L" "$out/15-letter-linearized-objstm.pdf"
q --linearize "$F" "$out/16-form-linearized.pdf"
q --linearize "$U" "$out/17-approval-update-linearized.pdf"

# QDF: qpdf's editable form (indirect /Length, comments between objects).
q --qdf --object-streams=disable "$A" "$out/18-approval-qdf.pdf"
q --qdf --object-streams=disable "$F" "$out/19-form-qdf.pdf"

# Rotated pages (/Rotate on the page or inherited from the tree).
q --rotate=+90:1 "$L" "$out/20-letter-rotate90-p1.pdf"
q --rotate=180 "$A" "$out/21-approval-rotate180.pdf"
q --rotate=+270 "$P" "$out/22-landscape-rotate270.pdf"
q --rotate=+90 --object-streams=generate "$F" "$out/23-form-rotate90-objstm.pdf"
pc rotate "$L" 90 "$out/24-letter-pdfcpu-rotate90.pdf"

# Offset crop boxes (the visible page is not the media box).
pc crop -- "[30 40 560 800]" "$A" "$out/25-approval-cropbox-offset.pdf"
pc crop -- "[40 20 580 770]" "$L" "$out/26-letter-cropbox-offset.pdf"
pc boxes add -- "crop:[50 30 820 575], trim:[60 40 810 565]" "$P" "$out/27-landscape-crop-trim-boxes.pdf"
q --rotate=+90 "$out/25-approval-cropbox-offset.pdf" "$out/28-approval-cropbox-rotate90.pdf"

# pdfcpu's writer: xref stream and object streams of its own making.
pc optimize "$A" "$out/29-approval-pdfcpu-optimize.pdf"
pc optimize "$L" "$out/30-letter-pdfcpu-optimize.pdf"
pc optimize "$F" "$out/31-form-pdfcpu-optimize.pdf"
pc properties add "$A" "$out/32-approval-pdfcpu-properties.pdf" "Department=Yuyao Administrative Service Center" "Case=YSG-2018-057"

# Merged documents with mixed page sizes and orientations.
pc merge "$out/33-merged-pdfcpu-approval-letter-landscape.pdf" "$A" "$L" "$P"
q --empty --pages "$F" "$A" "$P" -- "$out/34-merged-qpdf-form-approval-landscape.pdf"
q --empty --pages "$L" 3,1 "$U" -- "$out/35-merged-qpdf-letter-reordered-update.pdf"
pc pages insert -p 1 -m before "$L" "$out/36-letter-blank-first-page.pdf"
pc stamp add -p 1-3 -- "COPY" "scale:0.4 abs, pos:tr, rot:0, op:0.4, fillc:#C00000" "$L" "$out/37-letter-pdfcpu-text-stamp.pdf"

# Old PDF version header, classic table, uncompressed.
q --force-version=1.4 --object-streams=disable "$L" "$out/38-letter-pdf14.pdf"

fail=0
for f in "$out"/*.pdf; do
	if ! check="$(qpdf --check "$f" 2>&1)"; then
		echo "build.sh: qpdf --check failed on $f:" >&2
		echo "$check" >&2
		fail=1
	elif grep -qi "warning" <<<"$check"; then
		echo "build.sh: qpdf --check warns on $f:" >&2
		echo "$check" >&2
		fail=1
	fi
	if ! v="$(pdfcpu -c disable validate "$f" 2>&1)"; then
		echo "build.sh: pdfcpu validate failed on $f:" >&2
		echo "$v" >&2
		fail=1
	fi
done
exit "$fail"
