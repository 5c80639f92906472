package s3_test

import (
	"context"
	"testing"
	"time"

	"eseal/archive"
)

func TestProbePast(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	archive.PutBytesIfAbsent(ctx, s, "p", []byte("x"))
	t.Logf("past: %#v", s.SetRetention(ctx, "p", time.Now().Add(-time.Hour)))
	t.Logf("hold on missing version: %v", s.SetLegalHold(ctx, "nope", true))
}
