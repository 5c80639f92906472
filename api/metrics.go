package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"eseal/archive"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are eseal's Prometheus metrics, on a registry of their own so
// several servers can live in one test process.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.HistogramVec
	stamps        *prometheus.CounterVec
	verifications *prometheus.CounterVec
	authzRejected *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	busy          *prometheus.CounterVec
	slowBodies    *prometheus.CounterVec
	verifyCache   *prometheus.CounterVec
	storeOps      *prometheus.HistogramVec
	stampWarnings *prometheus.CounterVec
	auditFailures prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eseal_http_request_duration_seconds", Help: "HTTP request latency by route and status.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "status"}),
		stamps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_stamps_total", Help: "Stamp requests by unit (the stamper key's), seal and result (ok or the problem type).",
		}, []string{"unit", "seal", "result"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_verifications_total", Help: "Verifications by overall verdict.",
		}, []string{"verdict"}),
		authzRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_authorization_rejections_total", Help: "Stampings refused because of the authorization, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_rate_limited_total", Help: "Requests answered 429, by limit (code_client, code_prefix, approval, console_sign_in, verify_client).",
		}, []string{"limit"}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_busy_total", Help: "Requests answered 503 because every slot of their kind was taken, by kind (verify_upload, verify_stored).",
		}, []string{"kind"}),
		slowBodies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_body_too_slow_total", Help: "Requests answered 408 because their body arrived slower than limits.min_body_rate, by kind (stamp, verify_upload).",
		}, []string{"kind"}),
		verifyCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eseal_verify_cache_total", Help: "Verifications of archived documents by how the report was had (hit, shared, miss).",
		}, []string{"result"}),
	}
	m.storeOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "eseal_store_operation_duration_seconds", Help: "Object store operations by operation and result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
	}, []string{"op", "result"})
	m.stampWarnings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eseal_stamp_warnings_total", Help: "Stampings that succeeded with a warning, by warning (timestamp-unavailable: the TSA was down).",
	}, []string{"warning"})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eseal_audit_append_failures_total", Help: "Audit log appends that failed (the change they recorded was refused or undone where it could be).",
	})
	m.reg.MustRegister(m.auditFailures, m.stampWarnings, m.storeOps, m.requests, m.stamps, m.verifications, m.authzRejected, m.rateLimited, m.busy, m.slowBodies, m.verifyCache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Metrics are a server's Prometheus metrics. Create them before the server
// when the store should report into them (see ObserveStore).
type Metrics = metrics

// NewMetrics makes a fresh set of metrics on their own registry.
func NewMetrics() *Metrics { return newMetrics() }

// ObserveStore is an archive.Observer recording store operations.
func (m *metrics) ObserveStore(op string, err error, d time.Duration) {
	result := "ok"
	switch {
	case err == nil, errors.Is(err, archive.ErrStopListing):
	case errors.Is(err, archive.ErrNotFound):
		result = "not_found"
	case errors.Is(err, archive.ErrExists):
		result = "exists"
	default:
		var le *archive.LockedError
		if errors.As(err, &le) {
			result = "locked"
		} else {
			result = "error"
		}
	}
	m.storeOps.WithLabelValues(op, result).Observe(d.Seconds())
}

// AuditAppendFailed counts a failed audit log append; it is the Failed hook
// of seal.LogAuditor.
func (m *metrics) AuditAppendFailed() { m.auditFailures.Inc() }

// Registerer lets other parts (the store) add their metrics to the server's registry.
func (s *Server) Registerer() prometheus.Registerer { return s.metrics.reg }

func (m *metrics) stampResult(unit, sealID string, p *Problem) {
	if p == nil {
		m.stamps.WithLabelValues(unit, sealID, "ok").Inc()
		return
	}
	slug := p.Type[len(problemBase):]
	if p.Status == 404 && slug == "seal-not-found" {
		sealID = "unknown" // keep label cardinality bounded
	}
	m.stamps.WithLabelValues(unit, sealID, slug).Inc()
	if len(slug) > len("authorization-") && slug[:len("authorization-")] == "authorization-" {
		m.authzRejected.WithLabelValues(slug[len("authorization-"):]).Inc()
	}
}

// metricsHandler serves /metrics on the main address, unless the metrics
// have an address of their own (Options.MetricsElsewhere).
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	if s.MetricsElsewhere {
		writeProblem(w, r, newProblem("not-found", "the metrics are served on the metrics address"))
		return
	}
	s.MetricsHandler().ServeHTTP(w, r)
}

// MetricsHandler serves the metrics, behind Options.MetricsToken when one is
// set: per-seal volumes are not for everyone.
func (s *Server) MetricsHandler() http.Handler {
	prom := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.MetricsToken != "" {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.MetricsToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="eseal metrics"`)
				writeProblem(w, r, newProblem("unauthenticated", "the metrics need the metrics bearer token"))
				return
			}
		}
		prom.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (pace.go sets
// its read deadline).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument records latency by route and status.
func (s *Server) instrument(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		s.metrics.requests.WithLabelValues(name, strconv.Itoa(rec.status)).Observe(time.Since(start).Seconds())
	})
}

// fixityCollector reports the newest fixity run saved in the store at scrape
// time, so every replica shows the result of a run made anywhere.
type fixityCollector struct {
	s                          *Server
	last, docs, problems, secs *prometheus.Desc
}

func newFixityCollector(s *Server) *fixityCollector {
	return &fixityCollector{s: s,
		last:     prometheus.NewDesc("eseal_fixity_last_run_timestamp_seconds", "When the last fixity run finished.", nil, nil),
		docs:     prometheus.NewDesc("eseal_fixity_last_run_documents", "Documents checked by the last fixity run.", nil, nil),
		problems: prometheus.NewDesc("eseal_fixity_last_run_problems", "Problems found by the last fixity run (any kind: altered, missing, foreign, unreconciled).", nil, nil),
		secs:     prometheus.NewDesc("eseal_fixity_last_run_duration_seconds", "How long the last fixity run took.", nil, nil),
	}
}

func (c *fixityCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.last
	ch <- c.docs
	ch <- c.problems
	ch <- c.secs
}

func (c *fixityCollector) Collect(ch chan<- prometheus.Metric) {
	rep, err := archive.LastFixityReport(context.Background(), c.s.Store)
	if err != nil || rep == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, float64(rep.Finished.Unix()))
	ch <- prometheus.MustNewConstMetric(c.docs, prometheus.GaugeValue, float64(rep.Documents))
	ch <- prometheus.MustNewConstMetric(c.problems, prometheus.GaugeValue, float64(len(rep.Problems)))
	ch <- prometheus.MustNewConstMetric(c.secs, prometheus.GaugeValue, rep.Finished.Sub(rep.Started).Seconds())
}
