package api_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"eseal/api"
)

// TestNewServers: two servers in one process each have their own metrics,
// Handler can be called again, and a partly set Limits keeps what the caller
// set while the zero fields take their defaults.
func TestNewServers(t *testing.T) {
	e := newEnv(t)
	opt := api.Options{Registry: e.reg, Store: e.store, Service: e.srv.Service, Limits: api.Limits{MaxJSONBytes: 4096}}
	a, err := api.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := api.New(opt)
	if err != nil {
		t.Fatalf("second server: %v", err)
	}
	want := api.DefaultLimits
	want.MaxJSONBytes = 4096
	if a.Limits != want {
		t.Errorf("limits %+v, want %+v", a.Limits, want)
	}
	if a.Metrics == b.Metrics || a.Metrics == e.srv.Metrics {
		t.Error("servers share one set of metrics")
	}
	get := func(h http.Handler, path string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	get(a.Handler(), "/healthz")
	get(a.Handler(), "/healthz")
	healthzA := `eseal_http_request_duration_seconds_count{route="healthz",status="200"} 2`
	if m := get(a.Handler(), "/metrics"); !strings.Contains(m, healthzA) {
		t.Errorf("first server's metrics lack %s", healthzA)
	}
	if m := get(b.Handler(), "/metrics"); strings.Contains(m, `route="healthz"`) {
		t.Error("second server counts the first one's requests")
	}

	// The JSON limit set is the one applied.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/seals", strings.NewReader(`{"name":"`+strings.Repeat("章", 2000)+`"}`))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "4096 bytes") {
		t.Errorf("a JSON body over MaxJSONBytes: %d %s", rec.Code, rec.Body)
	}
}

// TestNewRejects: options New cannot serve with are errors naming the
// option, not panics.
func TestNewRejects(t *testing.T) {
	e := newEnv(t)
	ok := api.Options{Registry: e.reg, Store: e.store, Service: e.srv.Service}
	for _, c := range []struct {
		field  string
		change func(*api.Options)
	}{
		{"Registry", func(o *api.Options) { o.Registry = nil }},
		{"Service", func(o *api.Options) { o.Service = nil }},
		{"Store", func(o *api.Options) { o.Store = nil }},
		{"Limits.CodeAttemptsPerMinute", func(o *api.Options) { o.Limits.CodeAttemptsPerMinute = -1 }},
		{"Limits.VerifyUploads", func(o *api.Options) { o.Limits.VerifyUploads = -2 }},
		{"Metrics", func(o *api.Options) { o.Metrics = e.srv.Metrics }}, // already the env server's
	} {
		opt := ok
		c.change(&opt)
		_, err := api.New(opt)
		var oe *api.OptionsError
		if !errors.As(err, &oe) || oe.Field != c.field {
			t.Errorf("%s: %v, want an OptionsError for %s", c.field, err, c.field)
		}
	}
}
