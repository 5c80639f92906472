package audit

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestFind: an entry appended after Next was read is found from there; one
// appended before it is not; nor is one whose block comes after until, or
// one that does not exist. A second log on the shard (another process of
// the node) moves Next past what it stored itself.
func TestFind(t *testing.T) {
	ctx := context.Background()
	s := newFS(t)
	c := newClock()
	l := open(t, s, "r1", c, nil)
	early := appendN(t, l, 3, "early")
	from := l.Next()
	if from != early[2].Block+1 {
		t.Fatalf("Next = %d after block %d", from, early[2].Block)
	}
	late := appendN(t, l, 5, "late")
	subject := func(sub string) func(Entry) bool { return func(e Entry) bool { return e.Subject == sub } }
	far := time.Now().Add(time.Hour)

	e, ok, err := Find(ctx, s, "r1", from, far, subject(late[3].Subject))
	if err != nil || !ok || e.Seq != late[3].Seq || e.Block != late[3].Block {
		t.Fatalf("Find(late 3) = %+v, %v, %v; want entry %d", e, ok, err, late[3].Seq)
	}
	for _, c := range []struct {
		name  string
		from  uint64
		until time.Time
		sub   string
	}{
		{"appended before from", from, far, early[1].Subject},
		{"no such entry", from, far, "doc/none"},
		{"its block after until", from, late[1].Time.Add(-time.Nanosecond), late[3].Subject},
		{"from past the shard's end", late[4].Block + 1, far, late[4].Subject},
	} {
		if e, ok, err := Find(ctx, s, "r1", c.from, c.until, subject(c.sub)); err != nil || ok {
			t.Errorf("%s: %+v, %v, %v; want none", c.name, e, ok, err)
		}
	}

	other := open(t, s, "r1", c, nil)
	if other.Next() != late[4].Block+1 {
		t.Errorf("a log opened on the shard: Next = %d, want %d", other.Next(), late[4].Block+1)
	}

	// A forged entry — its subject changed and its hash made to match, as
	// someone who knows the format would — is an error, not a match, and
	// so is an entry edited without its hash.
	forged := late[2]
	rewrite(t, s, BlockKey("r1", forged.Block), "", func(e *Entry) { e.Subject = "doc/forged" })
	if _, ok, err := Find(ctx, s, "r1", from, far, subject("doc/forged")); ok || !errors.Is(err, ErrBroken) {
		t.Errorf("a forged entry: found %v, %v; want ErrBroken", ok, err)
	}
	if _, ok, err := Find(ctx, s, "r1", forged.Block, far, subject("doc/forged")); ok || !errors.Is(err, ErrBroken) {
		t.Errorf("a forged entry, looked for from its own block: found %v, %v; want ErrBroken", ok, err)
	}
	b := readFile(t, s, BlockKey("r1", late[4].Block))
	writeFile(t, s, BlockKey("r1", late[4].Block), bytes.Replace(b, []byte("late-4"), []byte("late-x"), 1))
	if _, ok, err := Find(ctx, s, "r1", late[4].Block, far, subject("doc/late-x")); ok || !errors.Is(err, ErrBroken) {
		t.Errorf("an entry edited without its hash: found %v, %v; want ErrBroken", ok, err)
	}

	if _, _, err := Find(ctx, s, "../x", 1, far, subject("x")); err == nil {
		t.Error("Find accepted an invalid node name")
	}
}
