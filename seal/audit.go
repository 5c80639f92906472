package seal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// AuditEvent is one state change for the audit log.
type AuditEvent struct {
	Action  audit.Action      // audit.SealCreated, audit.DocumentStamped, …
	Subject string            // the id of what changed
	Actor   string            // who did it (API key name, "cli", …)
	Details map[string]string // what else the entry should prove
}

// Auditor appends events to the tamper-evident audit log (archive/audit).
// Every state change — seal created or revoked, authorization granted,
// consumed or revoked, document stamped, held, transferred, disposed — goes
// through it.
type Auditor interface {
	Append(ctx context.Context, e AuditEvent) error
}

// audit appends an event. The change it records has already happened, so a
// failure cannot undo it: it is logged loudly for the operator, and that is
// the only trace. Log.Append writes nothing when it fails, so the audit log
// simply lacks the entry — its chain stays intact and its verification shows
// no gap.
func (r *Registry) audit(ctx context.Context, e AuditEvent) {
	if r.auditor == nil {
		return
	}
	if err := r.auditor.Append(ctx, e); err != nil {
		slog.Error("audit log append failed", "action", e.Action, "subject", e.Subject, "err", err)
	}
}

// LogEvent appends an event for a state change made outside the registry,
// such as a local stamping on the command line.
func (r *Registry) LogEvent(ctx context.Context, e AuditEvent) { r.audit(ctx, e) }

// LogAuditor appends to an archive/audit log.
type LogAuditor struct {
	Log *audit.Log
	// Failed, if set, is called for every append that failed (a metric).
	Failed func()
}

// Append implements Auditor. An entry stored whose retention lock failed
// is recorded (the log retries the lock on its next append), so it is not
// an error here.
func (a LogAuditor) Append(ctx context.Context, e AuditEvent) error {
	stored, err := a.Log.Append(ctx, audit.Entry{Action: e.Action, Subject: e.Subject, Actor: e.Actor, Details: e.Details})
	if err != nil && stored.Seq != 0 {
		slog.Warn("audit entry stored; its retention lock is retried on the next append", "action", e.Action, "subject", e.Subject, "err", err)
		return nil
	}
	if err != nil && a.Failed != nil {
		a.Failed()
	}
	return err
}

// Next implements positioned: where the log's next entry goes, at the
// earliest.
func (a LogAuditor) Next() (node string, block uint64) { return a.Log.Node(), a.Log.Next() }

// positioned is an Auditor that can say where an entry appended from now on
// will be, at the earliest (LogAuditor).
type positioned interface {
	Next() (node string, block uint64)
}

// auditMark is where the entry of a change begun now will be, if it is
// appended: in this shard, in this block or a later one. A stamping keeps
// it in its staging object, so the recovery sweep can tell whether the
// stamping was logged before it was cut short (loggedSince).
type auditMark struct {
	Node  string `json:"node"`
	Block uint64 `json:"block"`
}

// auditMark returns the auditor's mark, or nil for an auditor without
// positions.
func (r *Registry) auditMark() *auditMark {
	p, ok := r.auditor.(positioned)
	if !ok {
		return nil
	}
	node, block := p.Next()
	return &auditMark{Node: node, Block: block}
}

// loggedSince reports whether the log holds, from m on, an entry of action
// on subject appended no later than until (audit.Find: it may answer no for
// an entry it gave up looking for, never yes for one that is not there).
func (r *Registry) loggedSince(ctx context.Context, m *auditMark, action audit.Action, subject string, until time.Time) (bool, error) {
	_, ok, err := audit.Find(ctx, r.store, m.Node, m.Block, until, func(e audit.Entry) bool {
		return e.Action == action && e.Subject == subject
	})
	return ok, err
}

// AuditError reports a change that was not made because the audit log could
// not record it: a change the log does not hold must not have happened.
type AuditError struct {
	Action  audit.Action
	Subject string
	Err     error
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("the audit log could not record %s %s, so it was not done: %v", e.Action, e.Subject, e.Err)
}

func (e *AuditError) Unwrap() error { return e.Err }

// logged appends the event of a change whose objects (keys) are written but
// not yet locked, and only then locks them: so a change is either in the log
// or undone (LogChange). The objects are kept as long as the longest
// retention class: their loss would change what the log and the records
// mean.
func (r *Registry) logged(ctx context.Context, e AuditEvent, keys ...string) error {
	if err := r.LogChange(ctx, e, keys...); err != nil {
		return err
	}
	r.keep(ctx, keys...)
	return nil
}

// LogChange appends the event of a change whose objects (keys) were just
// written, unlocked. When the append fails the change is undone — the
// objects deleted — and the answer is an *AuditError: a change the log does
// not hold must not have happened.
func (r *Registry) LogChange(ctx context.Context, e AuditEvent, keys ...string) error {
	if r.auditor == nil {
		return nil
	}
	err := r.auditor.Append(ctx, e)
	if err == nil {
		return nil
	}
	for _, k := range keys {
		if derr := r.store.Delete(ctx, k); derr != nil && !errors.Is(derr, archive.ErrNotFound) {
			slog.Error("undoing a change the audit log did not record", "key", k, "err", derr)
		}
	}
	return &AuditError{Action: e.Action, Subject: e.Subject, Err: err}
}

// keep retention-locks objects whose loss would change meaning — grants,
// their evidence, persons, revocations — for the longest retention class.
// A lock that fails is logged; fixity reports an unlocked object.
func (r *Registry) keep(ctx context.Context, keys ...string) {
	until := archive.Permanent.Until(r.now())
	for _, k := range keys {
		var le *archive.LockedError
		if err := r.store.SetRetention(ctx, k, until); err != nil && !errors.As(err, &le) {
			slog.Error("retention lock failed", "key", k, "err", err)
		}
	}
}

// CertificateRevoked is logged when a signer certificate is revoked on its own.
const CertificateRevoked audit.Action = "certificate.revoked"
