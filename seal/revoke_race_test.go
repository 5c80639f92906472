package seal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// gatedStore holds chosen writes until the test lets them go, so that a
// stamping's commit and a revoke can be interleaved step by step.
type gatedStore struct {
	archive.Store
	mu    sync.Mutex
	gates []*gate
}

// A gate stops the first write whose key matches, before or after the write.
type gate struct {
	match   func(key string) bool
	after   bool
	reached chan struct{}
	release chan struct{}
}

// hold arms a gate for the next write whose key contains part.
func (g *gatedStore) hold(part string, after bool) *gate {
	gt := &gate{match: func(k string) bool { return strings.Contains(k, part) }, after: after,
		reached: make(chan struct{}), release: make(chan struct{})}
	g.mu.Lock()
	g.gates = append(g.gates, gt)
	g.mu.Unlock()
	return gt
}

func (g *gatedStore) take(key string, after bool) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, gt := range g.gates {
		if gt.after == after && gt.match(key) {
			g.gates = append(g.gates[:i], g.gates[i+1:]...)
			return gt
		}
	}
	return nil
}

func (g *gatedStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (archive.ObjectInfo, error) {
	if gt := g.take(key, false); gt != nil {
		close(gt.reached)
		<-gt.release
	}
	info, err := g.Store.PutIfAbsent(ctx, key, r, size)
	if gt := g.take(key, true); gt != nil {
		close(gt.reached)
		<-gt.release
	}
	return info, err
}

// wait blocks until the gate's write is reached; go lets it continue.
func (gt *gate) wait(t *testing.T) {
	t.Helper()
	select {
	case <-gt.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the gated write was never reached")
	}
}

func (gt *gate) open() { close(gt.release) }

// raceEnv is a service whose store's writes can be gated.
type raceEnv struct {
	*serviceEnv
	gates *gatedStore
}

func newRaceEnv(t *testing.T) *raceEnv {
	t.Helper()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	base, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: base}
	return &raceEnv{newServiceEnvOn(t, "items: {}\n", clock, g), g}
}

func (e *raceEnv) grant(t *testing.T, maxUses int, ttl time.Duration) string {
	t.Helper()
	a, err := e.svc.Registry.Grant(context.Background(), seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1",
		GrantedBy: "负责人", MaxUses: maxUses, ExpiresIn: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

type stampResult struct {
	stamped *seal.Stamped
	err     error
}

// startStamp runs a stamping under the authorization in the background.
func startStamp(e *serviceEnv, authzID string) <-chan stampResult {
	done := make(chan stampResult, 1)
	go func() {
		s, err := e.svc.Stamp(context.Background(), seal.StampRequest{SealID: e.sealID, AuthorizationID: authzID,
			Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
			Record:    seal.RecordInput{Title: "许可决定书", CaseNo: "R-1"},
			PDF:       pdftest.Document(pdftest.Options{})})
		done <- stampResult{s, err}
	}()
	return done
}

type revokeResult struct {
	st  *seal.AuthorizationState
	err error
}

func startRevoke(e *serviceEnv, authzID string) <-chan revokeResult {
	done := make(chan revokeResult, 1)
	go func() {
		st, err := e.svc.Registry.RevokeAuthorization(context.Background(), authzID, "撤回", "负责人")
		done <- revokeResult{st, err}
	}()
	return done
}

func authzReason(err error) seal.AuthzReason {
	var ae *seal.AuthzError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return ""
}

// checkOutcome asserts that exactly one of the stamping and the revoke won,
// that each says so consistently, and that the store agrees: a committed
// stamping is the authorization's use and the revoke names it; a lost one
// left nothing behind.
func checkOutcome(t *testing.T, e *serviceEnv, authzID string, s stampResult, r revokeResult, wantStamped bool, docsBefore int) {
	t.Helper()
	ctx := context.Background()
	var late *seal.RevokeTooLateError
	tooLate := errors.As(r.err, &late) || (r.err == nil && len(r.st.TooLateFor) > 0)
	switch {
	case s.err == nil && r.err == nil && len(r.st.TooLateFor) == 0:
		t.Fatalf("both won: the stamping committed %s and the revoke said it was in time", s.stamped.DocumentID)
	case s.err == nil && !tooLate:
		t.Fatalf("the stamping committed and the revoke failed otherwise: %v", r.err)
	case s.err != nil && authzReason(s.err) != seal.AuthzRevoked:
		t.Fatalf("the stamping failed otherwise than with the revocation: %v", s.err)
	case s.err != nil && r.err != nil:
		t.Fatalf("both lost: stamping %v; revoke %v", s.err, r.err)
	case s.err != nil && tooLate:
		t.Fatalf("the stamping failed and the revoke says it came too late for %v", r.st.TooLateFor)
	case wantStamped != (s.err == nil):
		t.Fatalf("stamping committed %v, want %v (stamp err %v, revoke err %v)", s.err == nil, wantStamped, s.err, r.err)
	}
	st, err := e.svc.Registry.Authorization(ctx, authzID)
	if err != nil {
		t.Fatal(err)
	}
	if s.err != nil && st.Revoked == nil {
		t.Fatal("the revoke won and the authorization is not marked revoked")
	}
	if s.err == nil {
		docs := late.DocumentIDs
		if r.err == nil {
			docs = r.st.TooLateFor
		}
		if len(docs) != 1 || docs[0] != s.stamped.DocumentID {
			t.Fatalf("the revoke came too late for %v, the stamping made %s", docs, s.stamped.DocumentID)
		}
		if len(st.Uses) != 1 || st.Uses[0].DocumentID != s.stamped.DocumentID {
			t.Fatalf("uses %+v, want one naming %s", st.Uses, s.stamped.DocumentID)
		}
		if ok, err := e.svc.Documents().Committed(ctx, s.stamped.Record); err != nil || !ok {
			t.Fatalf("the stamped document is not committed: %v %v", ok, err)
		}
	} else if len(st.Uses) != 0 {
		t.Fatalf("a lost stamping left uses %+v", st.Uses)
	}
	if err := e.svc.FlushPending(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(t, e.store, "pending/"); n != 0 {
		t.Fatalf("%d pending entries left", n)
	}
	wantDocs := docsBefore
	if s.err == nil {
		wantDocs += 2 // document.pdf and record.json
	}
	if n := countPrefix(t, e.store, "docs/"); n != wantDocs {
		t.Fatalf("%d objects under docs/, want %d", n, wantDocs)
	}
}

// TestRevokeRacingCommit orders a stamping's commit and a revoke in every
// way that matters (see seal/commit.go): either the stamping commits and the
// revoke says it came too late for it, or the revoke is in time and the
// stamping fails — never both, never neither.
func TestRevokeRacingCommit(t *testing.T) {
	// The stamping is held at one write (stampAt, before it or after it);
	// then the revoke runs to its end, or is held at one write too (revokeAt)
	// and the two are let go in turn, the stamping first when stampFirst.
	cases := []struct {
		name                    string
		stampAt                 string
		stampAfter              bool
		revokeAt                string
		revokeAfter, stampFirst bool
		wantStamped             bool
	}{
		{name: "revoke before the commit reads revocation again", stampAt: "pending/"},
		{name: "revoke between the re-read and the use marker", stampAt: "/use/"},
		{name: "use marker before the revoke", stampAt: "/use/", stampAfter: true, wantStamped: true},
		// The stamping, finding revoked.json after its marker, closes first.
		{name: "revoked.json, then the use marker, then the revoke's close", stampAt: "/use/",
			revokeAt: "revoked.json", revokeAfter: true, stampFirst: true, wantStamped: true},
		{name: "both put the same slot, the revoke's first", stampAt: "/use/", revokeAt: "/use/"},
		{name: "both put the same slot, the stamping's first", stampAt: "/use/", revokeAt: "/use/",
			stampFirst: true, wantStamped: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newRaceEnv(t)
			id := e.grant(t, 1, time.Hour)
			held := e.gates.hold(c.stampAt, c.stampAfter)
			s := startStamp(e.serviceEnv, id)
			held.wait(t)
			var sr stampResult
			var rr revokeResult
			switch {
			case c.revokeAt == "":
				rr = <-startRevoke(e.serviceEnv, id)
				held.open()
				sr = <-s
			default:
				revoke := e.gates.hold(c.revokeAt, c.revokeAfter)
				r := startRevoke(e.serviceEnv, id)
				revoke.wait(t)
				if c.stampFirst {
					held.open()
					sr = <-s
					revoke.open()
					rr = <-r
				} else {
					revoke.open()
					rr = <-r
					held.open()
					sr = <-s
				}
			}
			checkOutcome(t, e.serviceEnv, id, sr, rr, c.wantStamped, 0)
		})
	}
}

// TestRevokeTooLateForOneOfTwoUses: a grant of two uses, one being committed
// when the revoke arrives; the revoke is in time for the other (200, naming
// the one it was too late for), and a later stamping fails.
func TestRevokeTooLateForOneOfTwoUses(t *testing.T) {
	e := newRaceEnv(t)
	id := e.grant(t, 2, time.Hour)
	use := e.gates.hold("/use/", true)
	s := startStamp(e.serviceEnv, id)
	use.wait(t)
	r := <-startRevoke(e.serviceEnv, id)
	use.open()
	sr := <-s
	if sr.err != nil || r.err != nil {
		t.Fatalf("stamp: %v; revoke: %v", sr.err, r.err)
	}
	if len(r.st.TooLateFor) != 1 || r.st.TooLateFor[0] != sr.stamped.DocumentID || r.st.Remaining != 1 {
		t.Fatalf("revoke: too late for %v, remaining %d; the stamping made %s", r.st.TooLateFor, r.st.Remaining, sr.stamped.DocumentID)
	}
	if again := <-startStamp(e.serviceEnv, id); authzReason(again.err) != seal.AuthzRevoked {
		t.Fatalf("a stamping after the revoke: %v", again.err)
	}
}

// TestSlotGivenBackUnderRevoke: a use marker that the revoke's closing marker
// listed is given back (a joint approval that lost on another seal: a
// release beside it). A stamping that aimed at its slot does not take the
// slot again, nor the use given back: it meets the closing marker above
// and does not commit, for the revoke did not name it.
func TestSlotGivenBackUnderRevoke(t *testing.T) {
	e := newRaceEnv(t)
	ctx := context.Background()
	id := e.grant(t, 2, time.Hour)
	use := e.gates.hold("/use/", false)
	s := startStamp(e.serviceEnv, id)
	use.wait(t) // the stamping aims at slot 1
	key := "authz/" + id + "/use/0001.json"
	marker := `{"n": 1, "document_id": "doc-aaaaaaaaaaaaaaaa", "time": "2026-01-01T00:00:00Z"}`
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, key, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	r := <-startRevoke(e.serviceEnv, id)
	if r.err != nil || len(r.st.TooLateFor) != 1 || r.st.TooLateFor[0] != "doc-aaaaaaaaaaaaaaaa" {
		t.Fatalf("revoke: %+v", r)
	}
	if err := e.svc.Registry.GiveBackUse(ctx, id, 1, "doc-aaaaaaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	use.open()
	if sr := <-s; authzReason(sr.err) != seal.AuthzRevoked {
		t.Fatalf("a stamping in a slot given back under the revoke: %v", sr.err)
	}
	st, err := e.svc.Registry.Authorization(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Uses) != 0 || countPrefix(t, e.store, "docs/") != 0 || countPrefix(t, e.store, "pending/") != 0 {
		t.Fatalf("uses %+v; something of the lost stamping is left", st.Uses)
	}
	if n := countPrefix(t, e.store, "authz/"+id+"/use/"); n != 2 {
		t.Fatalf("%d use markers; want the one given back and the closing marker", n)
	}
}

// TestExpiryAtCommit: the grant expires while the PDF is being stamped; the
// stamping does not commit and leaves nothing, and the grant stays unused.
func TestExpiryAtCommit(t *testing.T) {
	e := newRaceEnv(t)
	ctx := context.Background()
	id := e.grant(t, 1, time.Minute)
	staging := e.gates.hold("pending/", false)
	s := startStamp(e.serviceEnv, id)
	staging.wait(t)
	e.clock.Advance(2 * time.Minute)
	staging.open()
	if sr := <-s; authzReason(sr.err) != seal.AuthzExpired {
		t.Fatalf("a stamping under a grant that expired before its commit: %v", sr.err)
	}
	st, err := e.svc.Registry.Authorization(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Uses) != 0 || countPrefix(t, e.store, "authz/"+id+"/use/") != 0 ||
		countPrefix(t, e.store, "docs/") != 0 || countPrefix(t, e.store, "pending/") != 0 {
		t.Fatal("the expired stamping left objects behind")
	}
}

// TestRecoveryFinishesCutShortRevoke: a revoke stopped after revoked.json
// (no closing marker) and a stamping stopped after its use marker, both for
// good (a crash); the recovery sweep finishes the close and, the marker
// being first, completes the document; a revoke retried then says already
// revoked, and no further stamping commits.
func TestRecoveryFinishesCutShortRevoke(t *testing.T) {
	e := newRaceEnv(t)
	ctx := context.Background()
	id := e.grant(t, 2, time.Hour)
	use := e.gates.hold("/use/", true)
	s := startStamp(e.serviceEnv, id)
	use.wait(t) // the stamping is "crashed" after its marker
	closing := e.gates.hold("/use/", false)
	r := startRevoke(e.serviceEnv, id)
	closing.wait(t) // the revoke is "crashed" before its closing marker

	done, dropped, err := e.svc.Recover(ctx)
	if err != nil || done != 1 || dropped != 0 {
		t.Fatalf("recover: %d completed, %d discarded, %v", done, dropped, err)
	}
	st, err := e.svc.Registry.Authorization(ctx, id)
	if err != nil || len(st.Uses) != 1 {
		t.Fatalf("after recovery: %+v %v", st, err)
	}
	// Let the two "crashed" calls go: they see what the sweep decided.
	use.open()
	closing.open()
	sr, rr := <-s, <-r
	if sr.err != nil || rr.err != nil || len(rr.st.TooLateFor) != 1 || rr.st.TooLateFor[0] != sr.stamped.DocumentID {
		t.Fatalf("stamp %v; revoke %+v", sr.err, rr)
	}
	if again := <-startStamp(e.serviceEnv, id); authzReason(again.err) != seal.AuthzRevoked {
		t.Fatalf("a stamping after the revoke: %v", again.err)
	}
}

// TestRevokeRaceConcurrent runs a stamping and a revoke of its authorization
// at the same time, many times over, on the filesystem store: never both
// win, never both lose.
func TestRevokeRaceConcurrent(t *testing.T) {
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	raceRounds(t, newServiceEnvOn(t, "items: {}\n", clock, store), 50)
}

// TestRevokeRaceConcurrentMinIO is TestRevokeRaceConcurrent on MinIO, whose
// put-if-absent is If-None-Match: *.
func TestRevokeRaceConcurrentMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	endpoint, access, secret := miniotest.Start(t)
	store, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: "eseal-revoke-race", AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	raceRounds(t, newServiceEnvOn(t, "items: {}\n", sealtest.NewClock(time.Now().UTC().Truncate(time.Second)), store), 10)
}

func raceRounds(t *testing.T, e *serviceEnv, rounds int) {
	t.Helper()
	// The revoke starts at a random moment within about one stamping's time,
	// so that both outcomes and the close calls between them all happen.
	e.stamp(t, "") // warm up: the first stamping is the slowest
	start := time.Now()
	e.stamp(t, "")
	span := time.Since(start)
	won := map[bool]int{}
	for round := range rounds {
		a, err := e.svc.Registry.Grant(context.Background(), seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", GrantedBy: "负责人"})
		if err != nil {
			t.Fatal(err)
		}
		docsBefore := countPrefix(t, e.store, "docs/")
		s := startStamp(e, a.ID)
		time.Sleep(rand.N(span + span/4))
		r := <-startRevoke(e, a.ID)
		sr := <-s
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			checkOutcome(t, e, a.ID, sr, r, sr.err == nil, docsBefore)
		})
		won[sr.err == nil]++
	}
	t.Logf("stamping won %d, revoke won %d of %d rounds", won[true], won[false], rounds)
}

// TestRetriedRevokeFinishesClose: a revoke stuck before its closing marker,
// retried: the retry says already revoked and closes the authorization; the
// first revoke, let go, finds the close done and answers in time.
func TestRetriedRevokeFinishesClose(t *testing.T) {
	e := newRaceEnv(t)
	ctx := context.Background()
	id := e.grant(t, 1, time.Hour)
	closing := e.gates.hold("/use/", false)
	first := startRevoke(e.serviceEnv, id)
	closing.wait(t)
	if _, err := e.svc.Registry.RevokeAuthorization(ctx, id, "再次撤回", "负责人"); authzReason(err) != seal.AuthzRevoked {
		t.Fatalf("the retried revoke: %v", err)
	}
	if n := countPrefix(t, e.store, "authz/"+id+"/use/"); n != 1 {
		t.Fatalf("%d objects in the use slots, want the closing marker", n)
	}
	closing.open()
	if r := <-first; r.err != nil || len(r.st.TooLateFor) != 0 {
		t.Fatalf("the first revoke: %+v", r)
	}
	if s := <-startStamp(e.serviceEnv, id); authzReason(s.err) != seal.AuthzRevoked {
		t.Fatalf("a stamping after the revoke: %v", s.err)
	}
}

// TestRevokeTooLateForAUseInFlight: the last use of a grant is held by a
// stamping not yet finished — a joint approval that may still lose on its
// other seal — when the revoke arrives. The revoke is too late for it
// (409, naming it) but still closes the grant: when the joint approval
// gives the use back, the use cannot be taken after the revoke's answer.
// A revoke of a grant whose uses are all finished changes nothing.
func TestRevokeTooLateForAUseInFlight(t *testing.T) {
	e := newRaceEnv(t)
	ctx := context.Background()
	id := e.grant(t, 1, time.Hour)
	const inFlight = "doc-aaaaaaaaaaaaaaaa"
	key := "authz/" + id + "/use/0001.json"
	marker := `{"n": 1, "document_id": "` + inFlight + `", "time": "` + e.clock.Now().Format(time.RFC3339) + `"}`
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, key, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	r := <-startRevoke(e.serviceEnv, id)
	var late *seal.RevokeTooLateError
	if !errors.As(r.err, &late) || len(late.DocumentIDs) != 1 || late.DocumentIDs[0] != inFlight {
		t.Fatalf("revoke while the last use is in flight: %+v", r)
	}
	if err := e.svc.Registry.GiveBackUse(ctx, id, 1, inFlight); err != nil {
		t.Fatal(err)
	}
	if sr := <-startStamp(e.serviceEnv, id); authzReason(sr.err) != seal.AuthzRevoked {
		t.Fatalf("a stamping after the revoke, the in-flight use given back: %v", sr.err)
	}

	// Finished uses: the revoke is a plain refusal.
	done := e.grant(t, 1, time.Hour)
	if sr := <-startStamp(e.serviceEnv, done); sr.err != nil {
		t.Fatal(sr.err)
	}
	before := countPrefix(t, e.store, "authz/"+done+"/")
	r = <-startRevoke(e.serviceEnv, done)
	if !errors.As(r.err, &late) || len(late.DocumentIDs) != 1 {
		t.Fatalf("revoke of a used grant: %+v", r)
	}
	if after := countPrefix(t, e.store, "authz/"+done+"/"); after != before {
		t.Fatalf("a revoke of a grant whose uses are finished wrote %d objects", after-before)
	}
}
