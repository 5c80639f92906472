package seal

// A seal's authorization policy says which grants may stamp with it:
// PolicyPerson, only grants a responsible person approved with their own
// credential; PolicyKey, also an authorizer key's direct grant, for
// integrations whose approval happens elsewhere.
//
// In the store: seals/<id>/policy/<n>.json, one event per change, the newest
// in force. New seals get their first event when created (PolicyPerson unless
// asked otherwise). A seal created before policies existed has no event and
// is read as PolicyKey, which is how it worked then: its integrations grant
// with authorizer keys, and an upgrade does not stop them.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// Policy is a seal's authorization policy.
type Policy string

// Authorization policies.
const (
	PolicyPerson Policy = "person"
	PolicyKey    Policy = "key"
)

// PolicyChanged is logged when a seal's policy is set.
const PolicyChanged audit.Action = "seal.policy"

// PolicyEvent records one setting of a seal's policy.
type PolicyEvent struct {
	Policy Policy    `json:"policy"`
	Time   time.Time `json:"time"`
	By     string    `json:"by,omitempty"`
}

// ParsePolicy reads a policy name; "" is PolicyPerson, the default for new seals.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "":
		return PolicyPerson, nil
	case PolicyPerson, PolicyKey:
		return Policy(s), nil
	}
	return "", &InvalidError{fmt.Sprintf("policy %q: want person or key", s)}
}

func policyKey(id string, seq int) string {
	return fmt.Sprintf("%s%s/policy/%08d.json", sealPrefix, id, seq)
}

// Policy returns the seal's authorization policy.
func (r *Registry) Policy(ctx context.Context, sealID string) (Policy, error) {
	_, ev, err := r.getSeal(ctx, sealID)
	if err != nil {
		return "", err
	}
	return ev.policyNow(), nil
}

// policyNow is the policy in force: the newest event's, PolicyKey for a seal
// without events.
func (ev *sealEvents) policyNow() Policy {
	if ev.policy == nil {
		return PolicyKey
	}
	return ev.policy.Policy
}

// SetPolicy appends a policy event for the seal.
func (r *Registry) SetPolicy(ctx context.Context, sealID string, p Policy, by string) error {
	if p != PolicyPerson && p != PolicyKey {
		return &InvalidError{fmt.Sprintf("policy %q: want person or key", p)}
	}
	for attempt := 0; attempt < 5; attempt++ {
		_, ev, err := r.getSeal(ctx, sealID)
		if err != nil {
			return err
		}
		n := ev.policyN
		err = r.putPolicy(ctx, sealID, n+1, p, by)
		if errors.Is(err, archive.ErrExists) {
			continue // another replica set it at the same moment: re-read
		}
		if err == nil {
			err = r.LogChange(ctx, AuditEvent{Action: PolicyChanged, Subject: sealID, Actor: by, Details: map[string]string{"policy": string(p)}},
				policyKey(sealID, n+1))
		}
		return err
	}
	return fmt.Errorf("seal %s: policy changed concurrently too often", sealID)
}

func (r *Registry) putPolicy(ctx context.Context, sealID string, seq int, p Policy, by string) error {
	ev := PolicyEvent{Policy: p, Time: r.now().UTC().Truncate(time.Second), By: by}
	return putJSON(ctx, r.store, policyKey(sealID, seq), ev)
}
