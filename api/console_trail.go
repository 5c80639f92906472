package api

// 利用登记: every read of a record by staff — its page in the console, its
// PDF from the console or over REST with an archivist key — is an audit
// entry naming who, which record, when and the purpose they stated; and the
// trail of a record is read back from the audit log for its console page.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"eseal/archive/audit"
	"eseal/seal"
)

// maxPurpose bounds a stated purpose (利用目的), in characters.
const maxPurpose = 200

// cleanPurpose trims a stated purpose and reports whether it is usable:
// 1 to maxPurpose characters of valid UTF-8.
func cleanPurpose(p string) (string, bool) {
	p = strings.TrimSpace(p)
	n := utf8.RuneCountInString(p)
	return p, utf8.ValidString(p) && n >= 1 && n <= maxPurpose
}

// logUse appends the 利用登记 entry of a read by a member of staff: the
// key's name is the actor, its id and the purpose are details, via says
// where (console, api). A read the log cannot record is not served: the
// error (*seal.AuditError) is the answer.
func (s *Server) logUse(ctx context.Context, action audit.Action, docID string, k *APIKey, purpose, via string) error {
	d := map[string]string{"key": k.ID, "via": via}
	if purpose != "" {
		d["purpose"] = purpose
	}
	return s.Registry.LogChange(ctx, seal.AuditEvent{Action: action, Subject: docID, Actor: k.Name, Details: d})
}

// logAPIUse logs a REST read of a record by an archivist key, with the
// purpose the caller gave in ?purpose= (optional over REST, where the
// caller is a system acting for a person it knows). Stamper keys are the
// approval systems reading back what they stamped, not 利用: not logged.
func (s *Server) logAPIUse(r *http.Request, action audit.Action, docID string) error {
	k := apiKeyFrom(r)
	if k == nil || k.Role != RoleArchivist {
		return nil
	}
	purpose, ok := cleanPurpose(r.URL.Query().Get("purpose"))
	if !ok {
		purpose = ""
	}
	return s.logUse(r.Context(), action, docID, k, purpose, "api")
}

// documentTrail returns the audit entries naming a document, oldest first,
// and why some of them may not be what was logged: from the blocks the
// search index says hold them (index.Trail checks them against the hash
// chain as it followed it), or, on a server without an index, by walking
// the whole log (audit.Entries) — a read that grows with the archive's
// years, for every record page opened, and that checks nothing.
func (s *Server) documentTrail(ctx context.Context, docID string) ([]audit.Entry, []string, error) {
	if s.Index != nil {
		if err := s.Index.CatchUp(ctx); err != nil {
			return nil, nil, err
		}
		return s.Index.Trail(ctx, docID)
	}
	var out []audit.Entry
	err := audit.Entries(ctx, s.Store, func(e audit.Entry) error {
		if e.Subject == docID {
			out = append(out, e)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b audit.Entry) int { return a.Time.Compare(b.Time) })
	return out, nil, err
}
