package seal

import (
	"context"
	"encoding/json"
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
//     marker into the next free slot, locked in the put until its
//     document's retention ends.
//   - A revoke writes revoked.json (from then on no stamping starts its
//     commit), then closes the authorization: it puts a closing marker into
//     the next free slot, listing the stamping markers it found below it.
//     Every slot below the closing marker was taken before it — those uses
//     came first, and the revoke answers that it came too late for them —
//     and no stamping commits at or above it: one that finds the closing
//     marker in its slot has lost to the revoke.
//
// Slots are taken in order and never given back. The next free slot is the
// one above the highest taken (each put goes one slot higher when it finds
// its slot taken), so the taken slots are always 1 to some n. A stamping
// that takes a slot and then does not commit (a joint approval that lost
// on another seal, an audit entry that failed: releaseUse) leaves its
// marker and puts a release beside it, authz/<id>/release/<NNNN>.json: the
// slot stays taken, the use no longer counts, and the stamping that comes
// next takes the slot above. A slot is taken while any version of its
// marker, release or (before markers were locked at put) receipt exists:
// the listing that reads the slots lists versions, so a marker hidden by a
// delete marker (an S3 DELETE without version id) keeps its slot, and is
// read by its version. The uses of an authorization are its stamping
// markers without a release; at most MaxUses of them: a stamping puts only
// while fewer than MaxUses are taken in its view — what it listed, and every
// slot above that it found taken on its way up, counted as a use although
// it may yet be given back — and since every slot below its own was taken
// first and is in that view, no stamping marker beyond MaxUses stands.
//
// A stamping marker commits if there is no closing marker, or if the closing
// marker lists it (same slot, same document), and no release gives it back.
// The closing marker lists every stamping marker below it that was not
// given back when it was put; a marker listed then given back (a joint
// approval that lost on another seal afterwards) does not commit.
//
// Why never both — the stamping commits and the revoke says it was in time.
// A stamping commits in one of two ways, and each makes the revoke name it:
//
//   - After its put it reads no revoked.json. Then its marker was written
//     before revoked.json, so before the revoke's close, which therefore
//     lists it (the closing marker lands above it) or finds no free slot
//     (all 9999 taken, when no stamping can take one either); either way
//     the revoke's read-back holds the marker and its answer names the
//     document (TooLateFor, or RevokeTooLateError).
//   - After its put it reads revoked.json, finishes the close itself (the
//     same put-if-absent as the revoke's, so the two cannot disagree:
//     whichever puts first, the other finds its closing marker), and the
//     closing marker lists it. The revoke's read-back follows its own
//     close, so it sees that closing marker and names the document.
//
// And never neither: a stamping fails at its commit only if it read
// revoked.json before its put (the revoke began first and closes with the
// slot still free), or found the closing marker in its slot or its listing,
// or is not listed by it — in each case the revoke's close came first and
// its answer leaves the stamping out. The interleavings, one by one: marker
// before revoked.json — the first case above; revoked.json before the
// stamping's re-read — the stamping fails having written nothing; re-read
// before revoked.json and marker after it — whichever put on the contested
// slot wins decides. A crashed revoke leaves revoked.json and no closing
// marker: stampings, the recovery sweep and a retried revoke finish the
// close the same way, so nothing is decided differently. A revoke closes
// even an authorization whose uses are all taken: a use given back
// afterwards must not become a use after the revoke.
//
// The revoke's answer is read back after its close: the documents of the
// uses that commit, which it came too late for. It is wrong in one way
// only: a joint approval whose marker the closing marker listed and that
// gives the marker back afterwards (it lost on another seal) is named as
// too late although it did not commit.

// RevokeTooLateError answers a revoke that came too late for every use the
// authorization had: stampings used them all, before the revoke or while it
// was under way. In the second case, and when a use is held by a stamping
// not yet finished (which may still give it back), the authorization is
// marked revoked all the same.
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

// maxSlot is the highest use slot: NNNN has four digits. A use given back
// keeps its slot, so an authorization has maxSlot slots for its stampings
// to take, of which at most MaxUses hold uses.
const maxSlot = 9999

func useKey(id string, n int) string { return authzKey(id, fmt.Sprintf("use/%04d.json", n)) }

// releaseKey is the release of use slot n (useRelease): put once beside the
// slot's marker, it gives the use back; the slot stays taken.
func releaseKey(id string, n int) string { return authzKey(id, fmt.Sprintf("release/%04d.json", n)) }

// spentKey is the receipt of a use: before use markers were locked in their
// put, finish put one beside each marker (locked) once the stamping was
// committed and logged, so that a use stayed spent when its marker was
// deleted. Nothing writes receipts any more; those written are honoured: a
// slot with a receipt is taken, and its use counts, though its marker is
// gone. A document is served only while its marker exists (Committed): the
// receipt keeps a use spent, it does not stand in for the commit.
func spentKey(id string, n int) string { return authzKey(id, fmt.Sprintf("spent/%04d.json", n)) }

// useRelease is what a release holds: the authorization and slot, the
// document of the stamping that gave it back, and why, signed by the seal
// maker as grants are. A release takes a use back, so one put around the
// service (locks stop no new key) must not: an unsigned or forged release
// counts for nothing, and fixity reports it.
type useRelease struct {
	AuthorizationID string        `json:"authorization_id"`
	N               int           `json:"n"`
	DocumentID      string        `json:"document_id"`
	Reason          releaseReason `json:"reason"`
	Time            time.Time     `json:"time"`
	// Signature is the seal maker's SM2 signature over the release without it.
	Signature []byte `json:"signature,omitempty"`
}

// signedBytes is what a release's signature covers: the release as JSON
// without the signature, in the field order of the struct.
func (u useRelease) signedBytes() []byte {
	u.Signature = nil
	b, _ := json.Marshal(u)
	return b
}

// releaseValid says whether a release read from slot n of authorization id
// is one the service made for it.
func (r *Registry) releaseValid(id string, n int, u *useRelease) bool {
	return u.AuthorizationID == id && u.N == n && r.grantSignatureValid(u.signedBytes(), u.Signature)
}

// releaseReason says why a stamping gave its use back.
type releaseReason string

const (
	// releaseLostCommit: another authorization of the same joint approval
	// was used, revoked or expired before this stamping could commit it.
	releaseLostCommit releaseReason = "lost-commit"
	// releaseRevoked: a revoke's closing marker does not list the use.
	releaseRevoked releaseReason = "revoked"
	// releaseAuditFailed: the stamping's audit entry could not be appended.
	releaseAuditFailed releaseReason = "audit-failed"
	// releaseAbandoned: the recovery sweep found a joint approval's commit
	// cut half-way and discarded it.
	releaseAbandoned releaseReason = "abandoned"
)

// authzSlots is what one listing of authz/<id>/ shows of an authorization:
// whether it is revoked, and its use slots.
type authzSlots struct {
	// revoked: revoked.json is listed; revokedVersion is the version read.
	revoked        bool
	revokedVersion string
	// markers are the markers in the use slots whose use was not given
	// back, read, by slot. A slot whose marker is missing but whose receipt
	// exists yields a marker made from the receipt, with MarkerMissing set.
	markers []useMarker
	// released are the slots whose use was given back (releaseKey), by a
	// release the service signed.
	released map[int]bool
	// top is the highest slot taken: by its marker, its release or its
	// receipt, any version of them.
	top int
}

// slots lists authz/<id>/ and reads the use markers it holds.
//
// It lists versions, not objects: each slot object is written once, so the
// first version written (the last listed: versions come newest first) is
// the one that counts, and a delete marker in front of it (S3: a DELETE
// without version id, which hides even a locked version from a plain
// listing) neither frees the slot nor keeps the marker from being read, by
// its version. On a store without versions this is the plain listing, and
// a marker removed (an rm on the filesystem, which bypasses its locks) is
// gone: its slot is free again, unless a receipt of before keeps it.
func (r *Registry) slots(ctx context.Context, id string) (*authzSlots, error) {
	prefix := authzKey(id, "")
	l := &authzSlots{released: map[int]bool{}}
	markers, receipts, releases := map[int]string{}, map[int]string{}, map[int]string{} // slot → version that counts
	err := r.store.ListVersions(ctx, prefix, func(o archive.ObjectInfo) error {
		rest := strings.TrimPrefix(o.Key, prefix)
		if rest == "revoked.json" {
			l.revoked, l.revokedVersion = true, o.VersionID
			return nil
		}
		var n int
		switch {
		case isSlot(rest, "use/", &n):
			markers[n] = o.VersionID
		case isSlot(rest, "release/", &n):
			releases[n] = o.VersionID
		case isSlot(rest, "spent/", &n):
			receipts[n] = o.VersionID
		default:
			return nil
		}
		l.top = max(l.top, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Releases are rare (a use given back): each is read and its signature
	// checked, so that one put around the service frees no use.
	for n, v := range releases {
		var u useRelease
		if _, err := getJSONVersion(ctx, r.store, releaseKey(id, n), v, &u); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if r.releaseValid(id, n, &u) {
			l.released[n] = true
		}
	}
	// A slot below the highest that the listing did not show: given back by
	// deletion (before releases), removed behind the store's back, or taken
	// while the listing passed it (slots are taken in order: it was taken
	// before the highest). It is read, so that no use is missed.
	for n := 1; n < l.top; n++ {
		if _, ok := markers[n]; !ok && !l.released[n] {
			if _, ok := receipts[n]; !ok {
				markers[n] = ""
			}
		}
	}
	found := map[int]bool{}
	for n := 1; n <= l.top; n++ {
		v, ok := markers[n]
		if !ok || l.released[n] {
			continue // a use given back counts for nothing: neither its marker nor its release is read
		}
		var m useMarker
		if _, err := getJSONVersion(ctx, r.store, useKey(id, n), v, &m); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				continue // never there, or removed since the listing
			}
			return nil, err
		}
		l.markers = append(l.markers, m)
		found[n] = true
	}
	for n, v := range receipts {
		if found[n] || l.released[n] {
			continue
		}
		var u usedSlot
		if _, err := getJSONVersion(ctx, r.store, spentKey(id, n), v, &u); err != nil {
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

// isSlot is slotNumber for a switch: it reports whether rest is
// "<dir>NNNN.json", setting *n.
func isSlot(rest, dir string, n *int) bool {
	k, ok := slotNumber(rest, dir)
	if ok {
		*n = k
	}
	return ok
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

// closeUses puts a closing marker into the next free use slot, unless one
// is there already; a revoke does it, and so does every stamping or recovery
// sweep that finds revoked.json, so that a revoke cut short is finished. It
// closes an authorization whose uses are all taken too (one given back
// afterwards must not be taken after the revoke), and returns without
// writing only when every slot is taken: nothing can commit any more.
func (r *Registry) closeUses(ctx context.Context, id string) error {
	// Each failed put means another slot was taken meanwhile; there are
	// maxSlot of them.
	for range maxSlot {
		l, err := r.slots(ctx, id)
		if err != nil || closer(l.markers) != nil {
			return err
		}
		free := l.top + 1
		if free > maxSlot {
			return nil
		}
		var after []usedSlot
		for _, m := range l.markers {
			after = append(after, usedSlot{m.N, m.DocumentID})
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
	return r.closeUses(ctx, id)
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
		finished, err := r.usesFinished(ctx, before.Uses)
		if err != nil {
			return nil, err
		}
		if finished {
			return nil, &RevokeTooLateError{ID: id, DocumentIDs: documentsOf(before.Uses)}
		}
		// A use is held by a stamping not yet finished, which may still
		// give it back (a joint approval lost on another seal, an audit
		// append that failed): close the authorization all the same, so
		// that use cannot be taken after this answer.
	}
	ev := StatusEvent{Status: Revoked, Reason: reason, Time: r.now().UTC().Truncate(time.Second), By: by}
	if err := putJSON(ctx, r.store, authzKey(id, "revoked.json"), ev); err != nil {
		if errors.Is(err, archive.ErrExists) {
			// Finish the close in case the first revoke was cut short.
			if err := r.closeUses(ctx, id); err != nil {
				return nil, err
			}
			return nil, &AuthzError{ID: id, Reason: AuthzRevoked, Detail: "already revoked"}
		}
		return nil, err
	}
	r.keep(ctx, authzKey(id, "revoked.json"))
	if err := r.closeUses(ctx, id); err != nil {
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

// usesFinished tells whether every use's stamping is finished: its
// document's record is written, which a finish does only after the
// stamping's audit entry and every use it took, so none of these uses can
// be given back any more. Newest first: the unfinished ones are the young.
func (r *Registry) usesFinished(ctx context.Context, uses []AuthorizationUse) (bool, error) {
	for i := len(uses) - 1; i >= 0; i-- {
		_, err := r.store.Head(ctx, archive.RecordKey(uses[i].DocumentID))
		if errors.Is(err, archive.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// ConsumeAuthorization commits one use of the authorization for a stored
// document: having read revocation and expiry again, the put-if-absent of
// the next use marker, locked in the put until u.RetainUntil (the
// document's retention end) when that is set. Of any number of concurrent
// callers, on any number of replicas, at most as many succeed as the grant
// has uses; the others get an AuthzError: consumed, or revoked or expired
// when that happened since the stamping was authorized. A caller that loses
// to a revoke gives back the use it took (releaseUse); its slot stays taken.
func (r *Registry) ConsumeAuthorization(ctx context.Context, st *AuthorizationState, u AuthorizationUse) (*AuthorizationUse, error) {
	// One listing of authz/<id>/, made now: revocation, the uses, the
	// highest slot taken.
	cur, slots, err := r.authorization(ctx, st.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case cur.Revoked != nil:
		return nil, revokedError(cur)
	case r.now().After(cur.ExpiresAt):
		return nil, &AuthzError{ID: st.ID, Reason: AuthzExpired, Detail: "expired at " + cur.ExpiresAt.Format(time.RFC3339) + ", before the stamping could commit"}
	case closer(slots.markers) != nil:
		return nil, r.revokedNow(ctx, st.ID)
	}
	// The next free slot is above the highest taken. A slot above it that
	// the put finds taken is another stamping's, and counts as a use (it
	// may yet be given back) while this one goes up: so no put is made
	// once MaxUses are taken in this stamping's view (see the top of this
	// file).
	used := len(cur.Uses)
	for n := slots.top + 1; n <= maxSlot && used < cur.MaxUses; n++ {
		u.N = n
		err := r.putUse(ctx, st.ID, u)
		if errors.Is(err, archive.ErrExists) {
			var m useMarker
			switch gerr := getJSON(ctx, r.store, useKey(st.ID, n), &m); {
			case errors.Is(gerr, archive.ErrNotFound):
				used++ // taken, and hidden or removed since: counted as a use that may stand
				continue
			case gerr != nil:
				// Whose marker it is cannot be read: the outcome is
				// unknown, and the caller must not discard (see commit).
				return nil, gerr
			case m.Closes != nil:
				return nil, r.revokedNow(ctx, st.ID)
			case m.DocumentID != u.DocumentID:
				used++
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
		if err := r.releaseUse(ctx, st.ID, n, u.DocumentID, releaseRevoked); err != nil {
			return nil, err
		}
		return nil, r.revokedNow(ctx, st.ID)
	}
	if cur, err = r.Authorization(ctx, st.ID); err == nil && cur.Revoked != nil {
		return nil, revokedError(cur)
	}
	detail := "already used"
	if slots.top >= maxSlot {
		detail = fmt.Sprintf("every one of its %d use slots is taken", maxSlot)
	}
	return nil, &AuthzError{ID: st.ID, Reason: AuthzConsumed, Detail: detail}
}

// putUse puts a stamping's use marker into slot u.N, locked until
// u.RetainUntil when that is set. A marker the store stored but could not
// lock is locked here; if that fails too the error says so, and the
// stamping is left to the recovery sweep, whose finish locks it.
func (r *Registry) putUse(ctx context.Context, id string, u AuthorizationUse) error {
	_, err := archive.PutLocked(ctx, r.store, useKey(id, u.N), jsonObject(u), u.RetainUntil)
	return err
}

// lockUnlocked locks an object until until unless it is retained that long
// already: one read instead of a write for a use marker locked in its put.
func lockUnlocked(ctx context.Context, s archive.Store, key string, until time.Time) error {
	info, err := s.Head(ctx, key)
	if errors.Is(err, archive.ErrNotFound) {
		// Hidden (a delete marker in front) or removed behind the store's
		// back: the slot still counts, fixity reports it, and there is
		// nothing here to lock — finishing the document must not wait on it.
		return nil
	}
	if err != nil || !info.RetainUntil.Before(until.Truncate(time.Second)) {
		return err
	}
	return s.SetRetention(ctx, key, until)
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
