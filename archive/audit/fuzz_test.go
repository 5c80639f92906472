package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
)

func seedEntry(t testing.TB) []byte {
	w := toWire(Entry{Seq: 2, Time: time.Date(2025, 3, 1, 8, 0, 0, 123_000_000, time.UTC), Node: "n1",
		Action: LegalHoldSet, Subject: "doc/42", Actor: "cli/archivist", Details: map[string]string{"reason": "案件 <1>"},
		Prev: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"})
	w.Hash = entryHash(w)
	b, err := marshalEntry(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseEntry: ParseEntry never panics, and what it accepts is exactly
// the canonical form of what it returns.
func FuzzParseEntry(f *testing.F) {
	f.Add(seedEntry(f))
	f.Add([]byte(`{"seq":1,"time":"2025-01-01T00:00:00Z","node":"a","action":"x","subject":"s","actor":"","prev":"","hash":"` + string(bytes.Repeat([]byte("0"), 64)) + `"}` + "\n"))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			return
		}
		again, err := marshalEntry(toWire(e))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %q but it re-encodes as %q (%v)", b, again, err)
		}
	})
}

// FuzzParseBlock: ParseBlock never panics, and what it accepts is exactly
// its entries' canonical forms one after the other, of one node, with
// consecutive seqs.
func FuzzParseBlock(f *testing.F) {
	one := seedEntry(f)
	f.Add(one)
	w := toWire(Entry{Seq: 3, Time: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), Node: "n1", Action: LegalHoldCleared, Subject: "doc/42", Actor: "cli/archivist"})
	w.Prev = string(bytes.Repeat([]byte("a"), 64))
	w.Hash = entryHash(w)
	two, _ := marshalEntry(w)
	f.Add(append(append([]byte(nil), one...), two...))
	f.Add(append(append([]byte(nil), two...), one...))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseBlock(b)
		if err != nil {
			return
		}
		var again []byte
		for i, e := range entries {
			if i > 0 && (e.Seq != entries[i-1].Seq+1 || e.Node != entries[0].Node) {
				t.Fatalf("accepted entries %d and %d of %q and %q", entries[i-1].Seq, e.Seq, entries[i-1].Node, e.Node)
			}
			w, err := marshalEntry(toWire(e))
			if err != nil {
				t.Fatal(err)
			}
			again = append(again, w...)
		}
		if !bytes.Equal(again, b) || len(entries) > MaxBlockEntries {
			t.Fatalf("accepted %q but it re-encodes as %q", b, again)
		}
	})
}

// FuzzParseCheckpoint: the same for checkpoints.
func FuzzParseCheckpoint(f *testing.F) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	cp := &Checkpoint{Time: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), Node: "n1",
		Shards: map[string]Position{"n1": {Seq: 3, Hash: string(bytes.Repeat([]byte("a"), 64)), Count: 3}, "n-2": {Seq: 1, Hash: string(bytes.Repeat([]byte("b"), 64))}}}
	msg, _ := json.Marshal(cp.wire())
	cp.Signature, _ = key.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
	f.Add(marshalCheckpoint(cp))
	f.Add([]byte(`{"time":"2025-01-01T00:00:00Z","node":"a","shards":null,"signature":"AA=="}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		if again := marshalCheckpoint(cp); !bytes.Equal(again, b) {
			t.Fatalf("accepted %q but it re-encodes as %q", b, again)
		}
	})
}
