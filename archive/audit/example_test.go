package audit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"os"

	"github.com/emmansun/gmsm/sm2"

	"eseal/archive/audit"
	"eseal/archive/fs"
)

// The life of the log as seal and the CLI use it: each replica appends to
// its shard, checkpoints are signed, an auditor verifies everything.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(dir)
	store, err := fs.New(dir, fs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	auditKey, _ := sm2.GenerateKey(rand.Reader)

	l, err := audit.Open(ctx, store, "replica-1", audit.Options{Signer: auditKey})
	if err != nil {
		log.Fatal(err)
	}
	e, err := l.Append(ctx, audit.Entry{
		Action:  audit.DocumentStamped,
		Subject: "doc/01J9Z",
		Actor:   "apikey/approval-system",
		Details: map[string]string{"seal": "seal-1", "authorization": "authz-7"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(audit.BlockKey(e.Node, e.Block), e.Seq, e.Action)
	if _, err := l.Checkpoint(ctx); err != nil {
		log.Fatal(err)
	}

	report, err := audit.Verify(ctx, store, &auditKey.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok:", report.OK(), "entries:", report.Entries, "checkpoints:", report.Checkpoints)
	// Output:
	// audit/replica-1/000000000001.json 1 document.stamped
	// ok: true entries: 1 checkpoints: 1
}
