package seal

import (
	"context"
	"log/slog"

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

func (s *Service) audit(ctx context.Context, e AuditEvent) { s.Registry.audit(ctx, e) }

// LogEvent appends an event for a state change made outside the registry,
// such as a local stamping on the command line.
func (r *Registry) LogEvent(ctx context.Context, e AuditEvent) { r.audit(ctx, e) }

// LogAuditor appends to an archive/audit log.
type LogAuditor struct{ Log *audit.Log }

// Append implements Auditor.
func (a LogAuditor) Append(ctx context.Context, e AuditEvent) error {
	_, err := a.Log.Append(ctx, audit.Entry{Action: e.Action, Subject: e.Subject, Actor: e.Actor, Details: e.Details})
	return err
}

// CertificateRevoked is logged when a signer certificate is revoked on its own.
const CertificateRevoked audit.Action = "certificate.revoked"
