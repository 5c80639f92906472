package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/transfer"
	"eseal/keys/tsa"
	"eseal/seal"
)

// serveConfig is the service configuration: defaults, then the config file,
// then environment variables, then flags.
type serveConfig struct {
	Addr      string `yaml:"addr"`
	PublicURL string `yaml:"public_url"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	Schedule  string `yaml:"retention_schedule"`
	Org       string `yaml:"org"`
	TSAURL    string `yaml:"tsa_url"`
	Fonds     string `yaml:"fonds"`
	RequireTS bool   `yaml:"require_timestamp"`
	// RecoveryGrace is how old an unfinished stamping must be before the
	// recovery sweep, repeated every half of it, finishes or discards it.
	RecoveryGrace time.Duration `yaml:"recovery_grace"`
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For
	// names the client (for the per-client limits).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsAddr serves /metrics on an address of its own; MetricsToken
	// puts it behind a bearer token (on either address).
	MetricsAddr  string `yaml:"metrics_addr"`
	MetricsToken string `yaml:"metrics_token"`
	// SpoolDir holds the temporary files of large request bodies.
	SpoolDir string      `yaml:"spool_dir"`
	Limits   serveLimits `yaml:"limits"`
	// Index is this replica's search index file (default DIR/index.db);
	// IndexEvery is how often it follows the audit log for what other
	// replicas changed.
	Index      string        `yaml:"index"`
	IndexEvery time.Duration `yaml:"index_every"`
	// TimeZone is the IANA zone the pages show times in ("" is China time,
	// labelled 北京时间).
	TimeZone string `yaml:"time_zone"`
	// PersonCRLRefresh is how often the persons' CAs' CRLs are fetched
	// from the distribution points their persons' certificates name
	// (unless ESEAL_PERSON_CRL_FETCH=off).
	PersonCRLRefresh time.Duration `yaml:"person_crl_refresh"`

	trusted []netip.Prefix // TrustedProxies, parsed by validate
}

// serveLimits are every limit and timeout of the service, in one place
// (`limits:` in the config file). The defaults suit the 2-core node of
// docs/performance.md; docs/architecture.md ("Limits") says what each bounds.
type serveLimits struct {
	MaxPDFBytes        int64         `yaml:"max_pdf_bytes"`
	MaxJSONBytes       int64         `yaml:"max_json_bytes"`
	CodeAttempts       int           `yaml:"code_attempts_per_minute"`
	CodePrefixAttempts int           `yaml:"code_prefix_attempts_per_minute"`
	ApprovalRequests   int           `yaml:"approval_requests_per_minute"`
	VerifyUploads      int           `yaml:"verify_uploads"`
	UploadsPerClient   int           `yaml:"uploads_per_client"`
	VerifyStored       int           `yaml:"verify_stored"`
	SpoolBytes         int64         `yaml:"spool_bytes"`
	VerifyCacheEntries int           `yaml:"verify_cache_entries"`
	VerifyCacheTTL     time.Duration `yaml:"verify_cache_ttl"`
	BusyWait           time.Duration `yaml:"busy_wait"`
	Stampings          int           `yaml:"stampings"`
	StampWait          time.Duration `yaml:"stamp_wait"`
	MinBodyRate        int64         `yaml:"min_body_rate"`
	BodyRateWindow     time.Duration `yaml:"body_rate_window"`
	MaxHeaderBytes     int           `yaml:"max_header_bytes"`
	ReadHeaderTimeout  time.Duration `yaml:"read_header_timeout"`
	ReadTimeout        time.Duration `yaml:"read_timeout"`
	WriteTimeout       time.Duration `yaml:"write_timeout"`
	IdleTimeout        time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout    time.Duration `yaml:"shutdown_timeout"`
}

func defaultServeConfig() serveConfig {
	d := api.DefaultLimits
	return serveConfig{
		Addr: "127.0.0.1:8080", Org: "浙江省某市行政审批服务局",
		Limits: serveLimits{
			MaxPDFBytes: d.MaxPDFBytes, MaxJSONBytes: d.MaxJSONBytes,
			CodeAttempts: d.CodeAttemptsPerMinute, CodePrefixAttempts: d.CodePrefixAttemptsPerMinute,
			ApprovalRequests: d.ApprovalRequestsPerMinute, VerifyUploads: d.VerifyUploads, UploadsPerClient: d.UploadsPerClient, VerifyStored: d.VerifyStored,
			SpoolBytes: d.SpoolBytes, VerifyCacheEntries: d.VerifyCacheEntries, VerifyCacheTTL: d.VerifyCacheTTL, BusyWait: d.BusyWait,
			Stampings: d.Stampings, StampWait: d.StampWait, MinBodyRate: d.MinBodyRate, BodyRateWindow: d.BodyRateWindow,
			MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 2 * time.Minute, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, ShutdownTimeout: 30 * time.Second,
		},
		RecoveryGrace: 10 * time.Minute, IndexEvery: 3 * time.Second, PersonCRLRefresh: time.Hour,
	}
}

// api returns the limits the HTTP handlers enforce.
func (l serveLimits) api() api.Limits {
	return api.Limits{
		MaxPDFBytes: l.MaxPDFBytes, MaxJSONBytes: l.MaxJSONBytes,
		CodeAttemptsPerMinute: l.CodeAttempts, CodePrefixAttemptsPerMinute: l.CodePrefixAttempts,
		ApprovalRequestsPerMinute: l.ApprovalRequests, VerifyUploads: l.VerifyUploads, UploadsPerClient: l.UploadsPerClient, VerifyStored: l.VerifyStored,
		SpoolBytes: l.SpoolBytes, VerifyCacheEntries: l.VerifyCacheEntries, VerifyCacheTTL: l.VerifyCacheTTL, BusyWait: l.BusyWait,
		Stampings: l.Stampings, StampWait: l.StampWait, MinBodyRate: l.MinBodyRate, BodyRateWindow: l.BodyRateWindow,
	}
}

// loadConfigFile reads a YAML config file strictly: unknown keys are errors.
func loadConfigFile(path string, c *serveConfig) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// applyEnv overrides the configuration from ESEAL_* variables.
func applyEnv(c *serveConfig, getenv func(string) string) error {
	str := map[string]*string{
		"ESEAL_ADDR": &c.Addr, "ESEAL_PUBLIC_URL": &c.PublicURL, "ESEAL_TLS_CERT": &c.TLSCert,
		"ESEAL_TLS_KEY": &c.TLSKey, "ESEAL_RETENTION_SCHEDULE": &c.Schedule, "ESEAL_ORG": &c.Org, "ESEAL_TSA_URL": &c.TSAURL, "ESEAL_FONDS": &c.Fonds,
		"ESEAL_METRICS_ADDR": &c.MetricsAddr, "ESEAL_METRICS_TOKEN": &c.MetricsToken, "ESEAL_SPOOL_DIR": &c.SpoolDir,
		"ESEAL_INDEX": &c.Index, "ESEAL_TIME_ZONE": &c.TimeZone,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("ESEAL_TRUSTED_PROXIES"); v != "" {
		c.TrustedProxies = strings.Split(v, ",")
	}
	ints := map[string]*int64{"ESEAL_MAX_PDF_BYTES": &c.Limits.MaxPDFBytes, "ESEAL_MAX_JSON_BYTES": &c.Limits.MaxJSONBytes}
	for k, p := range ints {
		if v := getenv(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			*p = n
		}
	}
	durs := map[string]*time.Duration{"ESEAL_READ_TIMEOUT": &c.Limits.ReadTimeout, "ESEAL_WRITE_TIMEOUT": &c.Limits.WriteTimeout, "ESEAL_IDLE_TIMEOUT": &c.Limits.IdleTimeout,
		"ESEAL_RECOVERY_GRACE": &c.RecoveryGrace, "ESEAL_INDEX_EVERY": &c.IndexEvery}
	for k, p := range durs {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			*p = d
		}
	}
	return nil
}

func (c *serveConfig) validate() error {
	l := c.Limits
	switch {
	case l.MaxPDFBytes < 1024 || l.MaxPDFBytes > 1<<30:
		return errors.New("limits.max_pdf_bytes must be between 1 KiB and 1 GiB")
	case l.MaxJSONBytes < 1024 || l.MaxJSONBytes > 16<<20:
		return errors.New("limits.max_json_bytes must be between 1 KiB and 16 MiB")
	case l.SpoolBytes < 0 || l.SpoolBytes > 64<<20:
		return errors.New("limits.spool_bytes must be between 0 and 64 MiB")
	case l.CodeAttempts < 1 || l.CodePrefixAttempts < 1 || l.ApprovalRequests < 1:
		return errors.New("limits: the per-minute limits must be at least 1")
	case l.VerifyUploads < 1 || l.UploadsPerClient < 1 || l.VerifyStored < 1 || l.VerifyCacheEntries < 1:
		return errors.New("limits.verify_uploads, uploads_per_client, verify_stored and verify_cache_entries must be at least 1")
	case l.Stampings < 1 || l.Stampings > 4096:
		return errors.New("limits.stampings must be between 1 and 4096")
	case l.MinBodyRate < 1 || l.MinBodyRate > 1<<30:
		return errors.New("limits.min_body_rate must be between 1 and 1 GiB a second")
	case l.BodyRateWindow < time.Second || l.BodyRateWindow > 10*time.Minute:
		return errors.New("limits.body_rate_window must be between 1s and 10m")
	case l.MaxHeaderBytes < 4096:
		return errors.New("limits.max_header_bytes must be at least 4096")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("tls_cert and tls_key go together")
	case l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 || l.ReadHeaderTimeout <= 0 ||
		l.ShutdownTimeout <= 0 || l.VerifyCacheTTL <= 0 || l.BusyWait <= 0 || l.StampWait <= 0:
		return errors.New("limits: timeouts must be positive")
	case c.RecoveryGrace < time.Second || c.RecoveryGrace > 24*time.Hour:
		return errors.New("recovery_grace must be between 1s and 24h")
	case c.IndexEvery < 100*time.Millisecond || c.IndexEvery > time.Hour:
		return errors.New("index_every must be between 100ms and 1h")
	case c.PersonCRLRefresh < time.Minute || c.PersonCRLRefresh > 24*time.Hour:
		return errors.New("person_crl_refresh must be between 1m and 24h")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "Local" {
			return fmt.Errorf("time_zone %q: not an IANA time zone name (such as Asia/Shanghai)", c.TimeZone)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("metrics_addr %q: %w", c.MetricsAddr, err)
		}
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public_url %q: give an absolute http(s) URL such as https://eseal.example.gov.cn", c.PublicURL)
		}
	}
	c.trusted = nil
	for _, t := range c.TrustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(t))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(t))
			if aerr != nil {
				return fmt.Errorf("trusted_proxies: %q is neither a CIDR nor an address", t)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.trusted = append(c.trusted, p.Masked())
	}
	return nil
}

// isLoopback reports whether a listen address (host:port) reaches only this
// machine. An empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// PostureError is a start-up refused because the configuration would serve
// a demo, or plain HTTP, to the network.
type PostureError struct{ Reason string }

func (e *PostureError) Error() string { return "refusing to start: " + e.Reason }

// checkPosture decides whether serve may start as configured, before
// anything is written. demoKey is the demo key-encryption key's path when
// the key lies beside the data (demo mode), "" otherwise. It returns the
// notes every start names (log, stderr, /readyz).
func checkPosture(cfg serveConfig, demoKey string, insecure bool) (map[string]string, error) {
	notes := map[string]string{}
	loop := isLoopback(cfg.Addr)
	tls := cfg.TLSCert != ""
	if demoKey != "" {
		notes["mode"] = "DEMO: the key-encryption key is " + demoKey + ", beside the data it protects; set ESEAL_MASTER_KEY or --master-key-file for production"
		notes["keys"] = "demo key beside the data (" + demoKey + ")"
	}
	if !loop {
		switch {
		case cfg.PublicURL == "":
			return nil, &PostureError{fmt.Sprintf("%s is not a loopback address and public_url is not set: set public_url (ESEAL_PUBLIC_URL or --public-url) to the address citizens reach, e.g. https://eseal.example.gov.cn; it goes into every QR code", cfg.Addr)}
		case demoKey != "" && !insecure:
			return nil, &PostureError{fmt.Sprintf("demo mode on %s, a network address: the key-encryption key %s lies beside the data. Set ESEAL_MASTER_KEY or --master-key-file (and move the key away from the data), or listen on 127.0.0.1; --insecure runs a demo on the network anyway", cfg.Addr, demoKey)}
		case !tls && !insecure:
			return nil, &PostureError{fmt.Sprintf("no TLS on %s, a network address: set tls_cert and tls_key (ESEAL_TLS_CERT, ESEAL_TLS_KEY); behind a TLS-terminating proxy pass --insecure", cfg.Addr)}
		}
		if insecure && (demoKey != "" || !tls) {
			what, how := "production", "without TLS"
			if demoKey != "" {
				what = "a demo"
			}
			if tls {
				how = "with TLS"
			}
			notes["insecure"] = fmt.Sprintf("--insecure: serving %s on %s, a network address, %s", what, cfg.Addr, how)
		}
		if cfg.MetricsToken == "" && cfg.MetricsAddr == "" {
			notes["metrics"] = "/metrics is public on " + cfg.Addr + ": set metrics_token or metrics_addr"
		}
	}
	if !tls {
		notes["tls"] = "off"
	}
	return notes, nil
}

func newServeCmd(g *globals) *cobra.Command {
	var configFile string
	var flagAddr, flagPublic string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service (initialises an empty data directory first)",
		Long: `Run the eseal HTTP service on the data directory.

On an empty data directory it does what 'eseal init' does first and prints its
API keys (admin, authorizer and stamper of the demo seal) once. Configuration: defaults, then --config FILE (YAML), then
ESEAL_* environment variables (ESEAL_ADDR, ESEAL_PUBLIC_URL, ESEAL_TLS_CERT,
ESEAL_TLS_KEY, ESEAL_RETENTION_SCHEDULE, ESEAL_MAX_PDF_BYTES, …), then flags.

Production posture: on an address other than loopback, serve needs
public_url, and refuses demo mode (the key-encryption key DIR/master.key
beside the data) and plain HTTP unless --insecure is given. Demo mode is
named on every start and in /readyz.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := defaultServeConfig()
			if configFile != "" {
				if err := loadConfigFile(configFile, &cfg); err != nil {
					return err
				}
			}
			if err := applyEnv(&cfg, os.Getenv); err != nil {
				return err
			}
			if flagAddr != "" {
				cfg.Addr = flagAddr
			}
			if flagPublic != "" {
				cfg.PublicURL = flagPublic
			}
			if err := cfg.validate(); err != nil {
				return err
			}
			notes, err := checkPosture(cfg, g.demoKeyInUse(), insecure)
			if err != nil {
				return err
			}
			return serve(cmd, g, cfg, notes)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration file")
	cmd.Flags().StringVar(&flagAddr, "addr", "", "listen address (default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&flagPublic, "public-url", "", "externally visible base URL for links and QR codes (required on a non-loopback address)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "serve on a network address in demo mode or without TLS (behind a TLS-terminating proxy); said on every start and in /readyz")
	return cmd
}

func serve(cmd *cobra.Command, g *globals, cfg serveConfig, notes map[string]string) error {
	ctx := cmd.Context()
	log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
	for _, k := range slices.Sorted(maps.Keys(notes)) {
		if k == "keys" || k == "tls" {
			continue // said by "mode", or only worth /readyz on loopback
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "eseal: WARNING: %s\n", notes[k])
		log.Warn("posture", "check", k, "note", notes[k])
	}
	st, err := g.openStore(ctx, true)
	if err != nil {
		return err
	}
	// Certificates issued from now on name the CRL and root under it.
	g.publicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if ok, err := initialised(ctx, st); err != nil {
		return err
	} else if !ok {
		res, err := initDataDir(cmd, g, cfg.Org, cfg.Fonds)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Initialised %s: demo seal %s (%s).\n", g.dir, res.SealID, res.SealName)
		res.printKeys(cmd.OutOrStdout())
	}
	metrics := api.NewMetrics()
	g.observe = metrics.ObserveStore
	g.auditFailed = metrics.AuditAppendFailed
	if g.node == "" {
		// Each replica writes an audit shard of its own: the host name and
		// the port tell replicas on one host apart.
		_, port, _ := net.SplitHostPort(cfg.Addr)
		if port == "" || port == "0" {
			port = strconv.Itoa(os.Getpid())
		}
		base := g.nodeName()
		if len(base) > 32-1-len(port) {
			base = base[:32-1-len(port)]
		}
		g.node = base + "-" + port
	}
	reg, store, err := g.openRegistry(ctx)
	if err != nil {
		return err
	}
	var sched *archive.Schedule
	if cfg.Schedule != "" {
		if sched, err = archive.LoadSchedule(cfg.Schedule); err != nil {
			return err
		}
	}
	svc := &seal.Service{Registry: reg, Store: store, Schedule: sched, Application: "eseal", Log: log, RequireTimestamp: cfg.RequireTS,
		RecoveryGrace: cfg.RecoveryGrace}
	if cfg.TSAURL != "" {
		svc.Timestamps = &tsa.Client{URL: cfg.TSAURL}
	}
	done, dropped, err := svc.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recovery sweep: %w", err)
	}
	log.Info("recovery sweep", "completed", done, "discarded", dropped)
	go svc.RunSweeps(ctx)
	if g.store == "" {
		if fsStore, err := fs.New(g.storeDir(), fs.Options{}); err == nil {
			if n, err := fsStore.SweepTemp(ctx, time.Hour); err != nil {
				log.Warn("sweeping temporary files", "err", err)
			} else if n > 0 {
				log.Info("removed temporary files of interrupted writes", "count", n)
			}
		}
	}

	// The search index: a view of the store this replica keeps, rebuilt
	// when missing, following the audit log for other replicas' changes
	// (a search first catches up, so this replica's own are found at once).
	ix, err := openIndex(ctx, g.indexPath(cfg.Index), store, svc.IndexedRecord, cmd.ErrOrStderr(), log)
	if err != nil {
		return err
	}
	defer ix.Close()
	go ix.Follow(ctx, cfg.IndexEvery)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = scheme + "://" + ln.Addr().String()
	}
	svc.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	svc.Fonds = cfg.Fonds
	var transferCfg *api.TransferConfig
	if cfg.Fonds != "" {
		transferCfg = &api.TransferConfig{Rule: transfer.Rule{Fonds: cfg.Fonds}}
	}
	if err := api.SetTimeZone(cfg.TimeZone); err != nil {
		ln.Close()
		return err
	}
	srv, err := api.New(api.Options{
		Transfer: transferCfg,
		Metrics:  metrics, Registry: reg, Service: svc, Store: store, PublicURL: cfg.PublicURL, Log: log,
		Limits: cfg.Limits.api(), TrustedProxies: cfg.trusted, SpoolDir: cfg.SpoolDir, Posture: notes,
		MetricsToken: cfg.MetricsToken, MetricsElsewhere: cfg.MetricsAddr != "", Index: ix,
	})
	if err != nil {
		ln.Close()
		return err
	}
	l := cfg.Limits
	hs := &http.Server{
		Handler: srv.Handler(), ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout: l.ReadTimeout, WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout,
		MaxHeaderBytes: l.MaxHeaderBytes, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	var ms *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics_addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
			IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { errc <- ms.Serve(mln) }()
		log.Info("serving metrics", "addr", mln.Addr().String())
		fmt.Fprintf(cmd.OutOrStdout(), "eseal metrics on http://%s/metrics\n", mln.Addr())
	}
	go func() {
		if cfg.TLSCert != "" {
			errc <- hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("serving", "addr", ln.Addr().String(), "public_url", srv.PublicURL, "dir", g.dir, "node", g.nodeName())
	// Checkpoint the audit log every minute while entries arrive, so a
	// truncation of the log's tail cannot go unnoticed for long.
	go everyUntilDone(ctx, time.Minute, func() {
		if err := g.checkpoint(ctx); err != nil {
			log.Error("audit checkpoint", "err", err)
		}
	})
	// Keep the persons' CAs' CRLs current, so a revocation reaches
	// approvals within person_crl_refresh, not when the stored CRL falls due.
	go everyUntilDone(ctx, cfg.PersonCRLRefresh, func() {
		n, failed, err := reg.RefreshPersonCRLs(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("refreshing the persons' CAs' CRLs", "err", err)
		}
		for _, f := range failed {
			log.Warn("a persons' CA's CRL could not be fetched", "detail", f)
		}
		if n > 0 {
			log.Info("persons' CAs' CRLs fetched", "cas", n)
		}
	})
	fmt.Fprintf(cmd.OutOrStdout(), "eseal listening on %s://%s\n", scheme, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), l.ShutdownTimeout)
	defer cancel()
	if ms != nil {
		_ = ms.Shutdown(sctx)
	}
	err = hs.Shutdown(sctx)
	// The stampings answered are finished, but for any whose finish is
	// being tried again in the background (the next start's sweep finishes
	// those); what may remain is the removal of their pending markers,
	// which that sweep would otherwise have to do.
	if serr := svc.StopRefinishing(sctx); serr != nil {
		log.Warn("background finishes left for the next recovery sweep", "err", serr)
	}
	if ferr := svc.FlushPending(sctx); ferr != nil {
		log.Warn("pending markers left for the next recovery sweep", "err", ferr)
	}
	return err
}

// everyUntilDone calls fn every d until ctx ends.
func everyUntilDone(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
