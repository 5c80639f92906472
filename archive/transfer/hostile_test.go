package transfer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/transfer"
)

type zentry struct {
	name   string
	data   []byte
	method uint16
	raw    bool // write data as the compressed bytes, declared sizes below
	usize  uint64
	flags  uint16
}

func makeZip(t testing.TB, entries ...zentry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: e.method, Flags: e.flags}
		var w interface{ Write([]byte) (int, error) }
		var err error
		if e.raw {
			fh.CompressedSize64, fh.UncompressedSize64 = uint64(len(e.data)), e.usize
			w, err = zw.CreateRaw(fh)
		} else {
			w, err = zw.CreateHeader(fh)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func check(t testing.TB, pkg []byte, lim transfer.Limits) *transfer.CheckReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := transfer.Check(ctx, bytes.NewReader(pkg), int64(len(pkg)), transfer.CheckOptions{Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestHostilePackages: packages built to hurt the checker are reported as
// failing, quickly, with nothing passing that did not run.
func TestHostilePackages(t *testing.T) {
	bomb := bytes.Repeat([]byte{0}, 50<<20)
	var deflated bytes.Buffer
	{
		zw := zip.NewWriter(&deflated)
		w, _ := zw.Create("x")
		_, _ = w.Write(bomb)
		_ = zw.Close()
	}
	// Pull the deflated bytes of the bomb out of the little ZIP.
	zr, _ := zip.NewReader(bytes.NewReader(deflated.Bytes()), int64(deflated.Len()))
	rc, _ := zr.File[0].OpenRaw()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(rc)

	many := make([]zentry, 0, 2000)
	for i := 0; i < 2000; i++ {
		many = append(many, zentry{name: "b/data/" + itoa(i) + ".xml", data: []byte("x")})
	}
	cases := []struct {
		name string
		pkg  []byte
		lim  transfer.Limits
		fail string
	}{
		{"not a zip", []byte("%PDF-1.7 definitely not a zip"), transfer.Limits{}, transfer.CheckStructure},
		{"empty", nil, transfer.Limits{}, transfer.CheckStructure},
		{"parent path", makeZip(t, zentry{name: "b/../../etc/x", data: []byte("x")}), transfer.Limits{}, transfer.CheckStructure},
		{"dotdot at start", makeZip(t, zentry{name: "../x", data: []byte("x")}), transfer.Limits{}, transfer.CheckStructure},
		{"absolute path", makeZip(t, zentry{name: "/etc/passwd", data: []byte("x")}), transfer.Limits{}, transfer.CheckStructure},
		{"backslash", makeZip(t, zentry{name: "b\\..\\x", data: []byte("x")}), transfer.Limits{}, transfer.CheckStructure},
		{"drive letter", makeZip(t, zentry{name: "C:/x", data: []byte("x")}), transfer.Limits{}, transfer.CheckStructure},
		{"duplicate entries", makeZip(t, zentry{name: "b/bagit.txt", data: []byte("a")}, zentry{name: "b/bagit.txt", data: []byte("b")}), transfer.Limits{}, transfer.CheckStructure},
		{"case collision", makeZip(t, zentry{name: "b/data/A.xml", data: []byte("a")}, zentry{name: "b/data/a.xml", data: []byte("b")}), transfer.Limits{}, transfer.CheckStructure},
		{"two top directories", makeZip(t, zentry{name: "a/bagit.txt", data: []byte("a")}, zentry{name: "b/bagit.txt", data: []byte("b")}), transfer.Limits{}, transfer.CheckStructure},
		{"file and folder", makeZip(t, zentry{name: "b/data/x", data: []byte("a")}, zentry{name: "b/data/x/y", data: []byte("b")}), transfer.Limits{}, transfer.CheckStructure},
		{"zip bomb by ratio", makeZip(t, zentry{name: "b/data/z.xml", data: raw.Bytes(), method: zip.Deflate, raw: true, usize: uint64(len(bomb))}), transfer.Limits{}, transfer.CheckStructure},
		{"zip bomb by declared size", makeZip(t, zentry{name: "b/data/z.xml", data: raw.Bytes(), method: zip.Deflate, raw: true, usize: 1 << 40}), transfer.Limits{}, transfer.CheckStructure},
		{"lying small size", makeZip(t, zentry{name: "b/bagit.txt", data: raw.Bytes(), method: zip.Deflate, raw: true, usize: 10}), transfer.Limits{}, transfer.CheckStructure},
		{"too many entries", makeZip(t, many...), transfer.Limits{MaxEntries: 1000}, transfer.CheckStructure},
		{"total size", makeZip(t, zentry{name: "b/data/a", data: make([]byte, 1000)}, zentry{name: "b/data/b", data: make([]byte, 1000)}), transfer.Limits{MaxTotalSize: 1500}, transfer.CheckStructure},
		{"encrypted entry", makeZip(t, zentry{name: "b/data/a.xml", data: []byte("x"), flags: 0x1}), transfer.Limits{}, transfer.CheckPackageUse},
		{"private compression", makeZip(t, zentry{name: "b/data/a.xml", data: []byte("x"), method: 99, raw: true, usize: 1}), transfer.Limits{}, transfer.CheckPackageUse},
		{"nested archive", makeZip(t, zentry{name: "b/data/a.xml", data: deflated.Bytes()}), transfer.Limits{}, transfer.CheckPackageUse},
		{"bag without anything", makeZip(t, zentry{name: "b/bagit.txt", data: []byte("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")}), transfer.Limits{}, transfer.CheckPackage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			rep := check(t, c.pkg, c.lim)
			if rep.OK() {
				t.Fatal("a hostile package passes")
			}
			if got := rep.Result(c.fail); got != transfer.Fail {
				t.Errorf("%s: %s, want fail\n%s", c.fail, got, dump(rep))
			}
			for _, row := range rep.Rows {
				if row.DocRef == "" && row.Result == transfer.Pass && row.Check != transfer.CheckStructure && row.Check != transfer.CheckMetaAccess && row.Check != transfer.CheckPackageUse {
					t.Errorf("%s passes on a hostile package: %s", row.Check, row.Detail)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// FuzzCheck: Check never panics or errors on any input, and never reports
// the result pass for a check that found nothing to check.
func FuzzCheck(f *testing.F) {
	f.Add([]byte{})
	f.Add(makeZip(f, zentry{name: "b/bagit.txt", data: []byte("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")},
		zentry{name: "b/data/catalogue.xml", data: []byte(`<目录文件 版本="eseal-transfer/1" 全宗号="Z" 件数="1"><条目><序号>1</序号><档号>Z-2026-Y-WS-0001</档号><文件名>Z-2026-Y-WS-0001/Z-2026-Y-WS-0001.pdf</文件名></条目></目录文件>`)},
		zentry{name: "b/data/Z-2026-Y-WS-0001/Z-2026-Y-WS-0001.pdf", data: []byte("%PDF-1.7\ntrailer<<>>\n%%EOF")},
		zentry{name: "b/manifest-sm3.txt", data: []byte("00 data/../x\n")}))
	f.Add(makeZip(f, zentry{name: "../x", data: []byte("x")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := transfer.Check(context.Background(), bytes.NewReader(b), int64(len(b)), transfer.CheckOptions{
			Limits: transfer.Limits{MaxEntries: 200, MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20, MaxInMemory: 1 << 20},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() && rep.Items == 0 {
			t.Fatalf("an empty package passes:\n%s", dump(rep))
		}
	})
}

func TestRefCodes(t *testing.T) {
	loc := transfer.China
	recs := []archive.Record{
		{DocumentID: "a", Retention: archive.Permanent, ItemCode: "330000-XK-0001", Date: time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)}, // 2027 in China
		{DocumentID: "b", Retention: archive.Permanent, ItemCode: "330000-XK-0001", Date: time.Date(2026, 5, 1, 0, 0, 0, 0, loc)},
		{DocumentID: "c", Retention: archive.Years10, Date: time.Date(2026, 5, 1, 0, 0, 0, 0, loc)},
		{DocumentID: "d", Retention: archive.Permanent, ItemCode: "330000.XK_0001", Date: time.Date(2026, 6, 1, 0, 0, 0, 0, loc)},
	}
	items, err := transfer.Assign(recs, transfer.Rule{Fonds: "Z001"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Z001-2027-Y-330000XK0001-0001", "Z001-2026-Y-330000XK0001-0001", "Z001-2026-D10-WS-0001", "Z001-2026-Y-330000XK0001-0002"}
	for i, it := range items {
		if it.Ref.String() != want[i] || it.Index != i+1 {
			t.Errorf("%d: %s (%d), want %s", i, it.Ref, it.Index, want[i])
		}
		if r, err := transfer.ParseRefCode(want[i]); err != nil || r.String() != want[i] {
			t.Errorf("parse %s: %v %v", want[i], r, err)
		}
	}
	// The brief's example form, with configured retention codes.
	custom := transfer.Rule{Fonds: "Z001", RetentionCodes: map[archive.RetentionClass]string{archive.Permanent: "Y000", archive.Years30: "Y030", archive.Years10: "Y010"}}
	items, err = transfer.Assign([]archive.Record{{Retention: archive.Years30, ItemCode: "330000XK001", Date: time.Date(2026, 3, 1, 0, 0, 0, 0, loc)}}, custom)
	if err != nil || items[0].Ref.String() != "Z001-2026-Y030-330000XK001-0001" {
		t.Fatalf("custom rule: %v %v", items, err)
	}
	for _, bad := range []string{"", "Z001-2026-Y-X", "Z 01-2026-Y-X-0001", "Z001-26-Y-X-0001", "Z001-2026-Y-X-0000", "Z001-2026-Y-X-00a1", "Z001-2026--X-0001", "Z001-2026-Y-X-0001-1"} {
		if _, err := transfer.ParseRefCode(bad); err == nil {
			t.Errorf("%q parses", bad)
		}
	}
	if _, err := transfer.Assign(recs, transfer.Rule{Fonds: "Z-1"}); err == nil {
		t.Error("a fonds code with '-' is accepted")
	}
	if _, err := transfer.Assign([]archive.Record{{Retention: "1h0m0s"}}, transfer.Rule{Fonds: "Z"}); err == nil {
		t.Error("a test retention class is transferred")
	}
}
