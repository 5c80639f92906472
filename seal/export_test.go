package seal

import "context"

// GiveBackUse gives back the n-th use of an authorization, taken by the
// stamping of docID, as a joint approval that lost on another seal does:
// for tests that stage that race by hand.
func (r *Registry) GiveBackUse(ctx context.Context, id string, n int, docID string) error {
	return r.releaseUse(ctx, id, n, docID, releaseLostCommit)
}
