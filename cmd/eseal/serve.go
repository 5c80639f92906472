package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	Addr         string        `yaml:"addr"`
	PublicURL    string        `yaml:"public_url"`
	TLSCert      string        `yaml:"tls_cert"`
	TLSKey       string        `yaml:"tls_key"`
	Schedule     string        `yaml:"retention_schedule"`
	Org          string        `yaml:"org"`
	TSAURL       string        `yaml:"tsa_url"`
	Fonds        string        `yaml:"fonds"`
	RequireTS    bool          `yaml:"require_timestamp"`
	MaxPDFBytes  int64         `yaml:"max_pdf_bytes"`
	MaxJSONBytes int64         `yaml:"max_json_bytes"`
	CodeAttempts int           `yaml:"code_attempts_per_minute"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// RecoveryGrace is how old an unfinished stamping must be before the
	// recovery sweep, repeated every half of it, finishes or discards it.
	RecoveryGrace time.Duration `yaml:"recovery_grace"`
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		Addr: "127.0.0.1:8080", Org: "浙江省某市行政审批服务局",
		MaxPDFBytes: api.DefaultLimits.MaxPDFBytes, MaxJSONBytes: api.DefaultLimits.MaxJSONBytes,
		CodeAttempts: api.DefaultLimits.CodeAttemptsPerMinute,
		ReadTimeout:  2 * time.Minute, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute,
		RecoveryGrace: 10 * time.Minute,
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
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	ints := map[string]*int64{"ESEAL_MAX_PDF_BYTES": &c.MaxPDFBytes, "ESEAL_MAX_JSON_BYTES": &c.MaxJSONBytes}
	for k, p := range ints {
		if v := getenv(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			*p = n
		}
	}
	durs := map[string]*time.Duration{"ESEAL_READ_TIMEOUT": &c.ReadTimeout, "ESEAL_WRITE_TIMEOUT": &c.WriteTimeout, "ESEAL_IDLE_TIMEOUT": &c.IdleTimeout,
		"ESEAL_RECOVERY_GRACE": &c.RecoveryGrace}
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
	switch {
	case c.MaxPDFBytes < 1024 || c.MaxPDFBytes > 1<<30:
		return errors.New("max_pdf_bytes must be between 1 KiB and 1 GiB")
	case c.MaxJSONBytes < 1024 || c.MaxJSONBytes > 16<<20:
		return errors.New("max_json_bytes must be between 1 KiB and 16 MiB")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("tls_cert and tls_key go together")
	case c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0:
		return errors.New("timeouts must be positive")
	case c.RecoveryGrace < time.Second || c.RecoveryGrace > 24*time.Hour:
		return errors.New("recovery_grace must be between 1s and 24h")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	return nil
}

func newServeCmd(g *globals) *cobra.Command {
	var configFile string
	var flagAddr, flagPublic string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service (initialises an empty data directory first)",
		Long: `Run the eseal HTTP service on the data directory.

On an empty data directory it does what 'eseal init' does first and prints its
API keys (admin, authorizer and stamper of the demo seal) once. Configuration: defaults, then --config FILE (YAML), then
ESEAL_* environment variables (ESEAL_ADDR, ESEAL_PUBLIC_URL, ESEAL_TLS_CERT,
ESEAL_TLS_KEY, ESEAL_RETENTION_SCHEDULE, ESEAL_MAX_PDF_BYTES, …), then flags.`,
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
			return serve(cmd, g, cfg)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration file")
	cmd.Flags().StringVar(&flagAddr, "addr", "", "listen address (default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&flagPublic, "public-url", "", "externally visible base URL for links and QR codes")
	return cmd
}

func serve(cmd *cobra.Command, g *globals, cfg serveConfig) error {
	ctx := cmd.Context()
	log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
	st, err := g.openStore(ctx, true)
	if err != nil {
		return err
	}
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
	srv, err := api.New(api.Options{
		Transfer: transferCfg,
		Metrics:  metrics, Registry: reg, Service: svc, Store: store, PublicURL: cfg.PublicURL, Log: log,
		Limits: api.Limits{MaxPDFBytes: cfg.MaxPDFBytes, MaxJSONBytes: cfg.MaxJSONBytes, CodeAttemptsPerMinute: cfg.CodeAttempts},
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
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
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := g.checkpoint(ctx); err != nil {
					log.Error("audit checkpoint", "err", err)
				}
			}
		}
	}()
	fmt.Fprintf(cmd.OutOrStdout(), "eseal listening on %s://%s\n", scheme, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
