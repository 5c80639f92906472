package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/transfer"
	"eseal/pdf"
	"eseal/seal"
)

// TransferConfig is what POST /v1/transfers needs beyond the store: the
// reference-code rule (its fonds code) and, optionally, a register signer
// other than the organisation's audit-log key.
type TransferConfig struct {
	Rule     transfer.Rule
	Receiver string
	// Sign and SignerChain sign the register; nil means the organisation's
	// audit-log key (Org.AuditSigner) with its certificate and root.
	Sign        transfer.SignFunc
	SignerChain [][]byte
	// TempDir holds packages while they are written; "" means the system's.
	TempDir string
}

// transferRequest is the filter of POST /v1/transfers.
type transferRequest struct {
	Year      int    `json:"year,omitempty"`
	Retention string `json:"retention,omitempty"`
	ItemCode  string `json:"item_code,omitempty"`
	CaseNo    string `json:"case_no,omitempty"`
	// Unit, if given, must be the archivist key's: a unit transfers only
	// its own records.
	Unit string `json:"unit,omitempty"`
}

// createTransfer writes a transfer package of the committed records the
// filter selects and answers 200 with the ZIP (role archivist). The package
// is written to a temporary file first, so a failure is a problem+json
// answer, never a truncated ZIP; the headers carry its id, item count and
// SM3 package digest.
func (s *Server) createTransfer(cfg *TransferConfig) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req transferRequest
		if p := s.readJSON(w, r, &req); p != nil {
			writeProblem(w, r, p)
			return
		}
		k := apiKeyFrom(r)
		plan, p, err := s.planTransfer(r.Context(), cfg, k, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if p != nil {
			writeProblem(w, r, p)
			return
		}
		tmp, err := os.CreateTemp(plan.cfg.TempDir, "eseal-transfer-*.zip")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
		pkg, err := s.writeTransfer(r.Context(), plan, tmp, k.Name, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		size, err := tmp.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = tmp.Seek(0, io.SeekStart)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Disposition", `attachment; filename="`+pkg.ID+`.zip"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Eseal-Package-Id", pkg.ID)
		h.Set("X-Eseal-Package-Items", strconv.Itoa(pkg.Items))
		h.Set("X-Eseal-Package-Digest", "sm3="+pkg.Digest)
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, tmp)
	}
}

// transferPlan is a checked transfer request: the unit's rule and the
// committed records it selects, ready to be written.
type transferPlan struct {
	cfg  TransferConfig
	rule transfer.Rule
	unit *seal.Unit
	recs []archive.Record
}

// planTransfer checks a transfer request of an archivist key and selects
// its records. A request at fault is answered with a problem (nothing
// selected, a bad filter, another unit, no fonds code); err is the
// server's.
func (s *Server) planTransfer(ctx context.Context, cfg *TransferConfig, k *APIKey, req transferRequest) (*transferPlan, *Problem, error) {
	if req.Unit != "" && req.Unit != k.Unit {
		return nil, unitOutOfScope(k, "transfer the records of unit "+req.Unit, req.Unit), nil
	}
	unit, err := s.Registry.Unit(ctx, k.Unit)
	if err != nil {
		return nil, nil, err
	}
	// The unit's fonds code; the configured one for a first unit made
	// before units had fonds codes of their own.
	c := TransferConfig{}
	if cfg != nil {
		c = *cfg
	}
	rule := c.Rule
	if unit.Fonds != "" {
		rule.Fonds = unit.Fonds
	}
	if rule.Fonds == "" {
		return nil, newProblem("not-found", "transfers are not configured for unit "+unit.ID+" (no fonds code)"), nil
	}
	f := transfer.Filter{Year: req.Year, ItemCode: req.ItemCode, CaseNo: req.CaseNo, UnitTag: unit.Tag()}
	if req.Retention != "" {
		c, err := archive.ParseRetentionClass(req.Retention)
		if err != nil {
			q := newProblem("invalid-field", err.Error())
			q.Field = "retention"
			return nil, q, nil
		}
		f.Retention = c
	}
	if req.Year < 0 || req.Year > 9999 {
		q := newProblem("invalid-field", "year: 0 (any) or a four-digit year")
		q.Field = "year"
		return nil, q, nil
	}
	recs, err := transfer.Select(ctx, s.Service.Documents(), f)
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, newProblem("invalid-field", "no committed record matches the filter"), nil
	}
	return &transferPlan{cfg: c, rule: rule, unit: unit, recs: recs}, nil, nil
}

// writeTransfer writes the package of a plan to out, reporting each item
// done to progress (if set), and logs every record as transferred by by.
func (s *Server) writeTransfer(ctx context.Context, plan *transferPlan, out io.Writer, by string, progress func(done, total int)) (*transfer.Package, error) {
	ts, err := s.Registry.TrustStore(ctx)
	if err != nil {
		return nil, err
	}
	v := &seal.Verifier{Trust: ts, Registry: s.Registry}
	c := plan.cfg
	sign, chain := c.Sign, c.SignerChain
	if sign == nil {
		if sign, chain, err = s.Registry.RegisterSigner(ctx); err != nil {
			return nil, err
		}
	}
	pkg, err := transfer.Write(ctx, out, plan.recs, transfer.Options{
		Store: s.Store, Rule: plan.rule, Organisation: plan.unit.Name, Receiver: c.Receiver,
		Sign: sign, SignerChain: chain, TempDir: c.TempDir, Inspect: inspectPDF, Evidence: s.Registry.TransferEvidence,
		Progress: progress,
		Verify: func(ctx context.Context, pr io.ReaderAt, size int64) (string, string, error) {
			rep, err := v.VerifyPDF(ctx, pr, size)
			if err != nil {
				return "", "", err
			}
			return string(rep.Verdict), strings.Join(rep.Reasons, "; "), nil
		},
	})
	if err != nil {
		// A record unfit for transfer (its PDF no longer matches it, its
		// seal does not verify) or a bad rule is the archive's problem,
		// not the client's: logged, answered 500.
		var re *transfer.RuleError
		if errors.As(err, &re) {
			err = fmt.Errorf("transfer configuration: %w", err)
		}
		return nil, err
	}
	for _, rec := range plan.recs {
		s.Registry.LogEvent(ctx, seal.AuditEvent{Action: audit.RecordTransferred, Subject: rec.DocumentID, Actor: by,
			Details: map[string]string{"package": pkg.ID, "digest_sm3": pkg.Digest}})
	}
	return pkg, nil
}

// inspectPDF gives the transfer package's usability checks pdf.Inspect.
func inspectPDF(r io.ReaderAt, size int64) transfer.Inspection {
	return transfer.Inspection(pdf.Inspect(r, size))
}
