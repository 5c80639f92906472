package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eseal/archive"
)

// TestConfigHostile feeds broken configuration to `eseal serve`'s loader and
// to the retention schedule parser: each is refused with a message naming
// the problem, before anything starts.
func TestConfigHostile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "adress: 127.0.0.1:1\n", "field adress not found"},
		{"wrong type", "limits:\n  max_pdf_bytes: lots\n", "cannot unmarshal"},
		{"limit outside its block", "max_pdf_bytes: 1048576\n", "field max_pdf_bytes not found"},
		{"not YAML", "\x00\x01{[", "config"},
		{"huge limit", "limits:\n  max_pdf_bytes: 99999999999\n", "max_pdf_bytes"},
		{"tiny limit", "limits:\n  max_json_bytes: 10\n", "max_json_bytes"},
		{"no verification at all", "limits:\n  verify_uploads: 0\n", "verify_uploads"},
		{"no upload per client", "limits:\n  uploads_per_client: 0\n", "uploads_per_client"},
		{"huge spool", "limits:\n  spool_bytes: 1073741824\n", "spool_bytes"},
		{"zero code limit", "limits:\n  code_attempts_per_minute: 0\n", "per-minute"},
		{"bad proxy", "trusted_proxies: [\"10.0.0.0/33\"]\n", "trusted_proxies"},
		{"relative public url", "public_url: eseal.example\n", "public_url"},
		{"bad metrics address", "metrics_addr: nine\n", "metrics_addr"},
		{"cert without key", "tls_cert: /x.pem\n", "tls_cert and tls_key"},
		{"bad address", "addr: nonsense\n", "addr"},
		{"negative timeout", "limits:\n  read_timeout: -1s\n", "timeouts"},
		{"no body rate", "limits:\n  min_body_rate: -1\n", "min_body_rate"},
		{"body rate window of a day", "limits:\n  body_rate_window: 24h\n", "body_rate_window"},
		{"zero recovery grace", "recovery_grace: 0s\n", "recovery_grace"},
		{"recovery grace of days", "recovery_grace: 72h\n", "recovery_grace"},
		{"CRL refresh every second", "person_crl_refresh: 1s\n", "person_crl_refresh"},
		{"unknown time zone", "time_zone: Mars/Olympus\n", "time_zone"},
		{"the host's zone", "time_zone: Local\n", "time_zone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultServeConfig()
			err := loadConfigFile(write(c.name+".yaml", c.yaml), &cfg)
			if err == nil {
				err = cfg.validate()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	envCases := map[string]string{"ESEAL_MAX_PDF_BYTES": "12MB", "ESEAL_READ_TIMEOUT": "soon", "ESEAL_RECOVERY_GRACE": "later"}
	for k, v := range envCases {
		cfg := defaultServeConfig()
		if err := applyEnv(&cfg, func(name string) string {
			if name == k {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	if err := loadConfigFile(filepath.Join(dir, "missing.yaml"), new(serveConfig)); err == nil {
		t.Error("a missing config file was accepted")
	}

	for _, bad := range []string{
		"items:\n  \"../x\": permanent\n",
		"items:\n  A1: forever\n",
		"items:\n  A1: 0s\n",
		"items:\n  A1: [1, 2]\n",
		"itemz:\n  A1: 10y\n",
	} {
		if _, err := archive.ParseSchedule([]byte(bad)); err == nil {
			t.Errorf("schedule accepted: %q", bad)
		}
	}
	s, err := archive.ParseSchedule([]byte("items:\n  330000-XK-1: 10y\n  330000-XK-2: 永久\n"))
	if err != nil || s.ClassFor("330000-XK-1") != archive.Years10 || s.ClassFor("unknown") != archive.Permanent {
		t.Fatalf("good schedule: %v %+v", err, s)
	}
}
