package seal

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// The commit of an authorization's use, and its race with a revoke.
//
// Replicas share nothing but the store, whose one atomic primitive is
// put-if-absent, so a stamping and a revoke that race for the same use must
// be decided by one put-if-absent on one key. That key is the use slot
// authz/<id>/use/<NNNN>.json:
//
//   - A stamping, just before its commit, reads revoked.json and the clock
//     again (a revoked or expired grant does not commit), then puts its use
//     marker into the next free slot.
//   - A revoke writes revoked.json (from then on no stamping starts its
//     commit), then closes the authorization: it puts a closing marker into
//     the first free slot, listing the stamping markers it found below it.
//     Every slot below the closing marker was taken before it — those uses
//     came first, and the revoke answers that it came too late for them —
//     and no stamping commits at or above it: one that finds the closing
//     marker in its slot has lost to the revoke.
//
// A stamping marker commits if there is no closing marker, or if the closing
// marker lists it (same slot, same document). The second clause covers a
// slot given back after the closing marker listed what was there (a joint
// approval that lost on another seal releases its markers) and then taken
// again: the new marker is not listed and does not commit.
//
// Why never both — the stamping commits and the revoke says it was in time.
// A stamping commits in one of two ways, and each makes the revoke name it:
//
//   - After its put it reads no revoked.json. Then its marker was written
//     before revoked.json, so before the revoke's close, which therefore
//     lists it (the closing marker lands above it) or finds no free slot;
//     either way the revoke's read-back holds the marker and its answer
//     names the document (TooLateFor, or RevokeTooLateError).
//   - After its put it reads revoked.json, finishes the close itself (the
//     same put-if-absent as the revoke's, so the two cannot disagree:
//     whichever puts first, the other finds its closing marker), and the
//     closing marker lists it. The revoke's read-back follows its own
//     close, so it sees that closing marker and names the document.
//
// And never neither: a stamping fails at its commit only if it read
// revoked.json before its put (the revoke began first and closes with the
// slot still free), or found the closing marker in its slot, or is not
// listed by it — in each case the revoke's close came first and its answer
// leaves the stamping out. The interleavings, one by one: marker before
// revoked.json — the first case above; revoked.json before the stamping's
// re-read — the stamping fails having written nothing; re-read before
// revoked.json and marker after it — whichever put on the contested slot
// wins decides. A crashed revoke leaves revoked.json and no closing marker:
// stampings, the recovery sweep and a retried revoke finish the close the
// same way, so nothing is decided differently.
//
// The revoke's answer is read back after its close: the documents of the
// uses that commit, which it came too late for. It is wrong in one way
// only: a joint approval whose marker the closing marker listed and that
// gives the marker back afterwards (it lost on another seal) is named as
// too late although it did not commit.

// RevokeTooLateError answers a revoke that came too late for every use the
// authorization had: stampings used them all, before the revoke or while it
// was under way. In the second case the authorization is marked revoked all
// the same.
type RevokeTooLateError struct {
	ID string
	// DocumentIDs are the documents whose stampings committed first.
	DocumentIDs []string
}

func (e *RevokeTooLateError) Error() string {
	return fmt.Sprintf("authorization %s: the revoke came too late: used by %s", e.ID, strings.Join(e.DocumentIDs, ", "))
}

// useMarker is what a use slot holds: a stamping's use, or a revocation's
// closing marker (Closes set).
type useMarker struct {
	AuthorizationUse
	Closes *closing `json:"closes,omitempty"`
}

// closing is a revocation's claim on a use slot: the stamping markers below
// it that it found, which stand; any other stamping marker does not.
type closing struct {
	Time  time.Time  `json:"time"`
	After []usedSlot `json:"after"`
}

type usedSlot struct {
	N          int    `json:"n"`
	DocumentID string `json:"document_id"`
}

func (c *closing) lists(n int, docID string) bool {
	for _, u := range c.After {
		if u.N == n && u.DocumentID == docID {
			return true
		}
	}
	return false
}

func useKey(id string, n int) string { return authzKey(id, fmt.Sprintf("use/%04d.json", n)) }

// spentKey is the receipt of a use: a second write-once object, put (locked
// in the put where the store can) by finish once the stamping is committed
// and logged.
//
// "Already used" is decided by the use slots: a slot whose marker is gone
// would be free again. The receipt keeps it taken: a slot counts as taken
// when its marker or its receipt exists, so deleting one of the two objects
// (an rm on the filesystem backend, which bypasses its locks) neither frees
// the use nor goes unnoticed — fixity reports the missing one. The audit
// log holds the same fact (document.stamped names the authorization and the
// use), but reading it on every stamping means reading every shard; two
// objects side by side cost one listing, the one the slots already need.
// A document is served only while its marker exists (Committed): the
// receipt keeps a use spent, it does not stand in for the commit.
func spentKey(id string, n int) string { return authzKey(id, fmt.Sprintf("spent/%04d.json", n)) }

// authzSlots is what one listing of authz/<id>/ shows of an authorization:
// whether it is revoked, the markers in its use slots and their receipts.
type authzSlots struct {
	// revoked: revoked.json is listed.
	revoked bool
	// markers are the markers in the use slots, read, by slot. A slot whose
	// marker is missing but whose receipt exists yields a marker made from
	// the receipt, with Missing set.
	markers []useMarker
	// receipts are the slots whose receipt (spentKey) is listed.
	receipts map[int]bool
}

// useMarkers reads every marker in the authorization's use slots, by slot
// (authzSlots.markers).
func (r *Registry) useMarkers(ctx context.Context, id string) ([]useMarker, error) {
	l, err := r.slots(ctx, id)
	if err != nil {
		return nil, err
	}
	return l.markers, nil
}

// slots lists authz/<id>/ and reads the use markers it holds.
func (r *Registry) slots(ctx context.Context, id string) (*authzSlots, error) {
	l := &authzSlots{receipts: map[int]bool{}}
	spent := map[int]string{}
	err := r.store.List(ctx, authzKey(id, ""), func(o archive.ObjectInfo) error {
		rest := strings.TrimPrefix(o.Key, authzKey(id, ""))
		if rest == "revoked.json" {
			l.revoked = true
			return nil
		}
		if n, ok := slotNumber(rest, "spent/"); ok {
			spent[n] = o.Key
			l.receipts[n] = true
			return nil
		}
		if _, ok := slotNumber(rest, "use/"); !ok {
			return nil
		}
		var m useMarker
		if err := getJSON(ctx, r.store, o.Key, &m); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				return nil // given back meanwhile
			}
			return err
		}
		l.markers = append(l.markers, m)
		delete(spent, m.N)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range l.markers {
		delete(spent, m.N)
	}
	for _, k := range spent {
		var u usedSlot
		if err := getJSON(ctx, r.store, k, &u); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				continue
			}
			return nil, err
		}
		l.markers = append(l.markers, useMarker{AuthorizationUse: AuthorizationUse{N: u.N, DocumentID: u.DocumentID, MarkerMissing: true}})
	}
	sort.Slice(l.markers, func(i, j int) bool { return l.markers[i].N < l.markers[j].N })
	return l, nil
}

// slotNumber parses "<dir>NNNN.json".
func slotNumber(rest, dir string) (int, bool) {
	s, ok := strings.CutPrefix(rest, dir)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok || len(s) != 4 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0
}

// closer is the lowest closing marker among markers, or nil.
func closer(markers []useMarker) *closing {
	for _, m := range markers {
		if m.Closes != nil {
			return m.Closes
		}
	}
	return nil
}

// committedUses are the stamping markers that commit: all of them while the
// authorization is not closed, afterwards those the closing marker lists.
func committedUses(markers []useMarker) []AuthorizationUse {
	c := closer(markers)
	uses := []AuthorizationUse{}
	for _, m := range markers {
		if m.Closes == nil && (c == nil || c.lists(m.N, m.DocumentID)) {
			uses = append(uses, m.AuthorizationUse)
		}
	}
	return uses
}

// closeUses puts a closing marker into the first free use slot, unless one
// is there already; a revoke does it, and so does every stamping or recovery
// sweep that finds revoked.json, so that a revoke cut short is finished. It
// returns without writing when no slot is free: every use was taken first.
func (r *Registry) closeUses(ctx context.Context, id string, maxUses int) error {
	// Each failed put means another slot was taken meanwhile; there are
	// maxUses of them.
	for range maxUses + 1 {
		markers, err := r.useMarkers(ctx, id)
		if err != nil || closer(markers) != nil {
			return err
		}
		taken := map[int]bool{}
		var after []usedSlot
		free := 0
		for _, m := range markers {
			taken[m.N] = true
		}
		for n := 1; n <= maxUses && free == 0; n++ {
			if !taken[n] {
				free = n
			}
		}
		if free == 0 {
			return nil
		}
		for _, m := range markers {
			if m.N < free {
				after = append(after, usedSlot{m.N, m.DocumentID})
			}
		}
		c := useMarker{AuthorizationUse: AuthorizationUse{N: free, Time: r.now().UTC()}, Closes: &closing{Time: r.now().UTC(), After: after}}
		if err := putJSON(ctx, r.store, useKey(id, free), c); !errors.Is(err, archive.ErrExists) {
			if err == nil {
				r.keep(ctx, useKey(id, free))
			}
			return err
		}
	}
	return fmt.Errorf("authorization %s: could not close its uses: every slot kept changing", id)
}

// closeIfRevoked finishes the close of a revoked authorization (see
// closeUses); it does nothing to one that is not revoked.
func (r *Registry) closeIfRevoked(ctx context.Context, id string) error {
	_, err := r.store.Head(ctx, authzKey(id, "revoked.json"))
	if errors.Is(err, archive.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	g, err := r.grant(ctx, id)
	if err != nil {
		return err
	}
	return r.closeUses(ctx, id, g.MaxUses)
}

func documentsOf(uses []AuthorizationUse) []string {
	var docs []string
	for _, u := range uses {
		docs = append(docs, u.DocumentID)
	}
	return docs
}

// RevokeAuthorization withdraws an authorization that still has uses left.
// Stampings that commit while it is under way are named in the answer's
// TooLateFor; when they took every use left, the answer is a
// RevokeTooLateError (see the top of this file).
func (r *Registry) RevokeAuthorization(ctx context.Context, id, reason, by string) (*AuthorizationState, error) {
	before, err := r.Authorization(ctx, id)
	if err != nil {
		return nil, err
	}
	if before.Remaining <= 0 {
		return nil, &RevokeTooLateError{ID: id, DocumentIDs: documentsOf(before.Uses)}
	}
	ev := StatusEvent{Status: Revoked, Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}
	if err := putJSON(ctx, r.store, authzKey(id, "revoked.json"), ev); err != nil {
		if errors.Is(err, archive.ErrExists) {
			// Finish the close in case the first revoke was cut short.
			if err := r.closeUses(ctx, id, before.MaxUses); err != nil {
				return nil, err
			}
			return nil, &AuthzError{ID: id, Reason: AuthzRevoked, Detail: "already revoked"}
		}
		return nil, err
	}
	r.keep(ctx, authzKey(id, "revoked.json"))
	if err := r.closeUses(ctx, id, before.MaxUses); err != nil {
		return nil, err
	}
	st, err := r.Authorization(ctx, id)
	if err != nil {
		return nil, err
	}
	st.TooLateFor = documentsOf(st.Uses)
	details := map[string]string{"reason": reason}
	if len(st.TooLateFor) > 0 {
		details["too_late_for"] = strings.Join(st.TooLateFor, " ")
	}
	r.audit(ctx, AuditEvent{Action: audit.AuthorizationRevoked, Subject: id, Actor: by, Details: details})
	if st.Remaining <= 0 {
		return nil, &RevokeTooLateError{ID: id, DocumentIDs: st.TooLateFor}
	}
	return st, nil
}

// ConsumeAuthorization commits one use of the authorization for a stored
// document: having read revocation and expiry again, the put-if-absent of
// the next use marker. Of any number of concurrent callers, on any number of
// replicas, at most as many succeed as the grant has uses; the others get an
// AuthzError: consumed, or revoked or expired when that happened since the
// stamping was authorized. A caller that loses to a revoke leaves no marker.
func (r *Registry) ConsumeAuthorization(ctx context.Context, st *AuthorizationState, u AuthorizationUse) (*AuthorizationUse, error) {
	// One listing of authz/<id>/, made now: revocation, the uses, and the
	// receipts of the slots.
	cur, slots, err := r.authorization(ctx, st.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case cur.Revoked != nil:
		return nil, revokedError(cur)
	case r.now().After(cur.ExpiresAt):
		return nil, &AuthzError{ID: st.ID, Reason: AuthzExpired, Detail: "expired at " + cur.ExpiresAt.Format(time.RFC3339) + ", before the stamping could commit"}
	}
	// A slot with a receipt is spent, though its marker is gone (see
	// spentKey). Whether it has one is read just before the put: from the
	// listing just made until a put is refused, then by a HEAD of each slot.
	receipts := slots.receipts
	for n := len(cur.Uses) + 1; n <= cur.MaxUses; n++ {
		u.N = n
		if spent, err := r.receiptExists(ctx, st.ID, n, receipts); err != nil {
			return nil, err
		} else if spent {
			continue
		}
		err := putJSON(ctx, r.store, useKey(st.ID, n), u)
		if errors.Is(err, archive.ErrExists) {
			receipts = nil // the slots changed since the listing
			var m useMarker
			switch gerr := getJSON(ctx, r.store, useKey(st.ID, n), &m); {
			case errors.Is(gerr, archive.ErrNotFound):
				continue // given back meanwhile: the next slot, or this one on the next pass
			case gerr != nil:
				// Whose marker it is cannot be read: the outcome is
				// unknown, and the caller must not discard (see commit).
				return nil, gerr
			case m.Closes != nil:
				return nil, r.revokedNow(ctx, st.ID)
			case m.DocumentID != u.DocumentID:
				continue
			}
			// This stamping's own marker: a put the store stored but
			// answered with an error, then refused when retried. It is
			// this stamping's use, as if the put had succeeded.
		} else if err != nil {
			return nil, err
		}
		if committed, err := r.useCommits(ctx, st.ID, u); err != nil || committed {
			// On a store error the marker may commit or not: the recovery
			// sweep decides later, as for any interrupted commit.
			return &u, err
		}
		if err := r.releaseUse(ctx, st.ID, n, u.DocumentID); err != nil {
			return nil, err
		}
		return nil, r.revokedNow(ctx, st.ID)
	}
	if cur, err = r.Authorization(ctx, st.ID); err == nil && cur.Revoked != nil {
		return nil, revokedError(cur)
	}
	return nil, &AuthzError{ID: st.ID, Reason: AuthzConsumed, Detail: "already used"}
}

// receiptExists says whether use slot n has a receipt: as listed, or, with
// listed nil, as a HEAD finds it now.
func (r *Registry) receiptExists(ctx context.Context, id string, n int, listed map[int]bool) (bool, error) {
	if listed != nil {
		return listed[n], nil
	}
	_, err := r.store.Head(ctx, spentKey(id, n))
	if errors.Is(err, archive.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// useCommits says whether a use marker just written commits: it does unless
// the authorization was revoked and its closing marker does not list it.
func (r *Registry) useCommits(ctx context.Context, id string, u AuthorizationUse) (bool, error) {
	if _, err := r.store.Head(ctx, authzKey(id, "revoked.json")); errors.Is(err, archive.ErrNotFound) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	if err := r.closeIfRevoked(ctx, id); err != nil {
		return false, err
	}
	st, err := r.Authorization(ctx, id)
	if err != nil {
		return false, err
	}
	for _, c := range st.Uses {
		if c.N == u.N && c.DocumentID == u.DocumentID {
			return true, nil
		}
	}
	return false, nil
}

func (r *Registry) revokedNow(ctx context.Context, id string) error {
	st, err := r.Authorization(ctx, id)
	if err != nil {
		return err
	}
	return revokedError(st)
}

func revokedError(st *AuthorizationState) error {
	detail := "revoked before the stamping could commit"
	if st.Revoked != nil {
		detail = "revoked at " + st.Revoked.Time.Format(time.RFC3339) + ", before the stamping could commit"
	}
	return &AuthzError{ID: st.ID, Reason: AuthzRevoked, Detail: detail}
}
