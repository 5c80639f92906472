package seal

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"eseal/archive"
)

// encodeStaging is the staging object of entry and objs, whole, as
// stagingReader streams it.
func encodeStaging(entry pendingEntry, objs []stagedObject) []byte {
	r, size := stagingReader(entry, objs)
	var b bytes.Buffer
	b.Grow(int(size))
	_, _ = b.ReadFrom(r) // in-memory readers: no error
	return b.Bytes()
}

func sampleStaging() (pendingEntry, []stagedObject) {
	doc := "doc-abcdefghijklmnop"
	p := pendingEntry{DocumentID: doc, AuthorizationID: "az-1", CodeKey: "codes/x.json", Started: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC),
		Audit: &auditMark{Node: "r1", Block: 7}}
	return p, []stagedObject{
		{key: archive.DocumentKey(doc), data: []byte("%PDF-1.7\nsigned\n%%EOF\n")},
		{key: archive.DocumentPrefix(doc) + "ses-1.der", data: []byte{0x30, 0x03, 0x02, 0x01, 0x01}},
		{key: archive.RecordKey(doc), data: []byte(`{"document_id":"` + doc + `"}` + "\n")},
	}
}

// TestStagingRoundTrip: what encodeStaging writes, parseStaging gives back,
// byte for byte, and the record is found among the objects.
func TestStagingRoundTrip(t *testing.T) {
	p, objs := sampleStaging()
	b := encodeStaging(p, objs)
	got, gotObjs, err := parseStaging(stagingKey(p.DocumentID), b)
	if err != nil {
		t.Fatal(err)
	}
	if got.DocumentID != p.DocumentID || !got.Started.Equal(p.Started) || got.CodeKey != p.CodeKey {
		t.Errorf("entry %+v, want %+v", got, p)
	}
	if len(gotObjs) != len(objs) {
		t.Fatalf("%d objects, want %d", len(gotObjs), len(objs))
	}
	for i := range objs {
		if gotObjs[i].key != objs[i].key || !bytes.Equal(gotObjs[i].data, objs[i].data) {
			t.Errorf("object %d: %q %q, want %q %q", i, gotObjs[i].key, gotObjs[i].data, objs[i].key, objs[i].data)
		}
	}
	if rec, _, err := stagedRecord(p.DocumentID, gotObjs); err != nil || rec.DocumentID != p.DocumentID {
		t.Errorf("stagedRecord: %+v, %v", rec, err)
	}
}

// withMark is p with the audit mark node, block.
func withMark(p pendingEntry, node string, block uint64) pendingEntry {
	p.Audit = &auditMark{Node: node, Block: block}
	return p
}

// TestStagingHostile: a staging object changed in the store, or one that
// never was one, is a *StagingError, never objects to write.
func TestStagingHostile(t *testing.T) {
	p, objs := sampleStaging()
	key := stagingKey(p.DocumentID)
	good := encodeStaging(p, objs)
	other, _ := sampleStaging()
	other.DocumentID = "doc-qrstuvwxyzabcdef"
	foreign := append([]stagedObject{{key: "docs/doc-qrstuvwxyzabcdef/document.pdf", data: []byte("x")}}, objs...)
	flip := bytes.Clone(good)
	flip[len(flip)-3] ^= 1
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"a pending marker of the earlier layout", []byte(`{"document_id":"doc-abcdefghijklmnop"}`)},
		{"no header line", []byte(stagingMagic + `{"entry":{}`)},
		{"header not JSON", []byte(stagingMagic + "{\n")},
		{"unknown header field", []byte(stagingMagic + `{"entry":{"document_id":"doc-abcdefghijklmnop"},"objects":[],"more":1}` + "\n")},
		{"another document's staging", encodeStaging(other, objs)},
		{"an object of another document", encodeStaging(p, foreign)},
		{"a byte changed", flip},
		{"cut short", good[:len(good)-1]},
		{"bytes after the last object", append(bytes.Clone(good), 'x')},
		{"no record", encodeStaging(p, objs[:2])},
		{"no PDF", encodeStaging(p, objs[1:])},
		{"an object twice", encodeStaging(p, append(objs, objs[0]))},
		{"an audit mark outside the log", encodeStaging(withMark(p, "../docs", 1), objs)},
		{"an audit mark of block 0", encodeStaging(withMark(p, "r1", 0), objs)},
		{"negative size", []byte(stagingMagic + `{"entry":{"document_id":"doc-abcdefghijklmnop"},"objects":[{"key":"docs/doc-abcdefghijklmnop/document.pdf","size":-1,"sm3":""}]}` + "\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, got, err := parseStaging(key, c.b)
			var se *StagingError
			if !errors.As(err, &se) || got != nil {
				t.Errorf("parseStaging: %d objects, err = %v; want a *StagingError", len(got), err)
			}
		})
	}
}

// FuzzParseStaging: whatever a staging object holds, parseStaging either
// refuses it or gives objects whose bytes add up to what follows the header.
func FuzzParseStaging(f *testing.F) {
	p, objs := sampleStaging()
	f.Add(encodeStaging(p, objs))
	f.Add([]byte(stagingMagic + "{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		key := stagingKey(p.DocumentID)
		entry, got, err := parseStaging(key, b)
		if err != nil {
			return
		}
		n := 0
		for _, o := range got {
			n += len(o.data)
		}
		if stagingKey(entry.DocumentID) != key || n > len(b) {
			t.Fatalf("accepted %d bytes of objects from %d bytes for %s", n, len(b), entry.DocumentID)
		}
	})
}

// TestStagingHeaderAlone: the sweep reads a staging's header to learn its
// age without reading (or checking) the objects behind it.
func TestStagingHeaderAlone(t *testing.T) {
	p, objs := sampleStaging()
	b := encodeStaging(p, objs)
	b[len(b)-3] ^= 1 // an object damaged: only a read of the objects sees it
	got, none, err := readStaging(stagingKey(p.DocumentID), bytes.NewReader(b), false)
	if err != nil || none != nil || got.DocumentID != p.DocumentID || !got.Started.Equal(p.Started) {
		t.Fatalf("header alone: %+v, %d objects, %v", got, len(none), err)
	}
	if _, _, err := readStaging(stagingKey(p.DocumentID), bytes.NewReader(b), true); err == nil {
		t.Fatal("the damaged object was not seen when the objects were read")
	}
	long := append([]byte(stagingMagic), bytes.Repeat([]byte(" "), maxStagingHeader+10)...)
	if _, _, err := readStaging(stagingKey(p.DocumentID), bytes.NewReader(append(long, '\n')), false); err == nil {
		t.Fatal("a header line past the bound was read")
	}
}
