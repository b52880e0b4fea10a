// Package sidecar assembles trailcar: configuration, the proxy and admin
// servers, the audit writer and its subscribers, and their lifecycle.
//
// It is a room of trailcar, not a library: its exported API names types
// from trailcar's internal packages, for cmd/trailcar and the tests only.
package sidecar

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/internal/webhook"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rotate"
	"github.com/trailcar/trailcar/rules"
)

// ShutdownGrace is how long in-flight requests get to finish at shutdown.
const ShutdownGrace = 25 * time.Second

// Options are what the process gives the sidecar besides its Config.
type Options struct {
	// Stdout gets every audit line with activity_tracker.stdout; nil: the
	// key is ignored (a sidecar embedded in a test has no stdout of its own).
	Stdout io.Writer
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Registry for metrics; nil means a new one.
	Registry *prometheus.Registry
	// Version is reported by system.trailcar.started.
	Version string
	// ProbeInterval of the upstream; 0 means 5s.
	ProbeInterval time.Duration
	// Transport to the upstream; nil means the proxy's own (proxy.Options.Transport).
	Transport http.RoundTripper
	// Resolver looks up dns+http and dns+https cluster peers; nil means
	// the system's.
	Resolver *net.Resolver
	// WebhookDrain is how long webhook deliveries still pending at
	// shutdown get to finish before they are given up; 0 means
	// DefaultWebhookDrain.
	WebhookDrain time.Duration
}

// DefaultWebhookDrain is how long shutdown waits for pending webhook
// deliveries by default.
const DefaultWebhookDrain = 5 * time.Second

// MaxProxyConns bounds the proxy port's open connections; more wait in
// the kernel's backlog. Each costs some 40 KiB (its goroutines and
// buffers, and the one to the app), so the bound is also one on memory.
const MaxProxyConns = 1024

// Sidecar is a running trailcar.
type Sidecar struct {
	cfg         Config
	opts        Options
	log         *slog.Logger
	reg         *prometheus.Registry
	metrics     *metrics.Metrics
	rules       *rules.Rules
	trusted     identity.Trusted
	creds       *identity.Hasher   // creds.uuid of secrets: keyed by identity.hmac_key_file, or nil
	trail       *store.Store       // the one reader of the files, for every route
	redact      *identity.Redactor // of the admin port's own audit events
	ids         *event.IDs
	file        *rotate.File      // nil when the activity tracker is disabled
	cluster     *cluster.Cluster  // nil without cluster.peers
	seal        *integrity.Sealer // nil when integrity is off
	writer      *audit.Writer
	prober      *proxy.Prober
	streams     *proxy.Streams
	proxy       *proxy.Proxy
	webhooks    *webhook.Dispatcher // nil when disabled
	shipper     *ship.Shipper       // nil unless ship.enabled
	token       []byte              // admin bearer token; nil: none needed
	deleteToken []byte              // the token deletes need; nil: the read token
	streamSlots chan struct{}       // one per open follow or SSE stream
	querySlots  chan struct{}       // one per event answer being built (admin.max_queries)
	upstream    string              // the upstream URL to show: its password, if any, redacted

	proxyLn, adminLn   net.Listener
	adminTLS           bool // the admin port serves HTTPS (admin.tls_cert_file)
	proxySrv, adminSrv *http.Server

	// done is closed when shutdown begins: admin streams (follow, SSE) end.
	done     chan struct{}
	doneOnce sync.Once
}

// New builds the sidecar and opens its listeners and audit file, so that a
// port in use or an unwritable directory shows at once. Nothing is served
// until Run.
func New(cfg Config, opts Options) (_ *Sidecar, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &Sidecar{
		cfg: cfg, opts: opts, log: opts.Logger, reg: opts.Registry,
		upstream: redactedURL(cfg.Upstream),
		metrics:  metrics.New(opts.Registry),
		ids:      &event.IDs{},
		redact:   identity.NewRedactor(cfg.ActivityTracker.RedactQuery),
		streams:  &proxy.Streams{},
		done:     make(chan struct{}),
	}
	s.metrics.SetBuildInfo(opts.Version)
	defer func() {
		if err != nil {
			s.closeAll() // s, not the nil *Sidecar returned
		}
	}()
	if s.rules, err = cfg.Rules(); err != nil {
		return nil, err
	}
	if s.trusted, err = identity.ParseTrusted(cfg.TrustProxy); err != nil {
		return nil, err
	}
	if s.creds, err = cfg.Identity.Hasher(); err != nil {
		return nil, err
	}
	if err = s.loadToken(); err != nil {
		return nil, err
	}
	if s.token == nil && !loopbackListen(cfg.Admin.Listen) {
		s.log.Warn("the admin port listens beyond loopback without a token (admin.insecure: true): anyone who reaches it can read and delete the audit trail",
			"admin.listen", cfg.Admin.Listen)
	}
	if err = s.startWebhooks(); err != nil { // before the writer, which publishes to it
		return nil, err
	}
	if err = s.openAudit(); err != nil {
		return nil, err
	}
	s.trail = s.trailStore()
	if err = s.newShipper(); err != nil {
		return nil, err
	}
	if err = s.buildProxy(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen (proxy port): %w", err)
	}
	proxyLn := proxy.NewListener(ln, MaxProxyConns)
	proxyLn.Refused = s.proxy.Refused
	s.proxyLn = proxyLn
	if s.adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
		return nil, fmt.Errorf("admin.listen: %w", err)
	}
	cert, err := loadAdminCert(cfg.Admin)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		s.adminTLS = true
		s.adminLn = tls.NewListener(s.adminLn, cert.config())
	}
	if len(cfg.Cluster.Peers) > 0 {
		ca, err := cfg.Cluster.CA()
		if err != nil {
			return nil, err
		}
		if s.cluster, err = cluster.New(cluster.Options{
			Peers: cfg.Cluster.Peers, Timeout: cfg.Cluster.Timeout, CA: ca,
			Self: cluster.SelfCheck(s.adminLn.Addr()), Resolver: opts.Resolver,
			PeerStates: s.metrics.ClusterPeers, PeerRequests: s.metrics.ClusterPeerRequests,
		}); err != nil {
			return nil, &ConfigError{Key: "cluster.peers", Err: err}
		}
	}
	s.proxySrv = &http.Server{
		Handler:           s.proxy,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       s.streams.ConnContext,
		ConnState:         proxy.ConnState,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	admin, err := s.adminHandler()
	if err != nil {
		return nil, err
	}
	s.adminSrv = &http.Server{
		Handler:           admin,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (s *Sidecar) openAudit() error {
	t := s.cfg.ActivityTracker
	if t.Enabled {
		mode, _ := t.Mode()
		f, err := rotate.Open(rotate.Options{
			Dir: t.Dir, Filename: t.Filename, MaxSizeMB: t.MaxSizeMB, MaxFiles: t.MaxFiles,
			MaxAgeDays: t.MaxAgeDays, Compress: t.Compress, FileMode: mode, Logger: s.log,
			RotateEvery: t.RotateEvery, HandOff: s.cfg.Integrity.Enabled, // a sealed file ends with its checkpoint
			OnRotate: s.metrics.AuditRotations.Inc,
		})
		if err != nil {
			return fmt.Errorf("activity_tracker.dir: %w", err)
		}
		s.file = f
		if err := s.openSeal(); err != nil {
			return err
		}
	}
	opts := audit.Options{
		Queue: t.Queue, Drop: t.WhenFull == "drop",
		Service: s.cfg.Service, Host: s.cfg.Host,
		Metrics: s.metrics, Logger: s.log,
	}
	if s.file != nil {
		opts.File = s.file // a nil *rotate.File in the interface would not be nil
		opts.After = s.newestEventTime()
	}
	if s.webhooks != nil {
		opts.Publish = s.webhooks.Publish // never blocks: queues, or drops and counts
	}
	if t.Stdout {
		opts.Stdout = s.opts.Stdout
	}
	if s.seal != nil {
		opts.Seal, opts.CheckpointEvery = s.seal, s.cfg.Integrity.Interval
	}
	s.writer = audit.New(opts)
	return nil
}

// maxClockBack is how far the newest line of the dir may be ahead of the
// clock at start for the writer to go on after it. A clock that stepped
// back less than that keeps the dir's order; a line further ahead is
// taken for a foreign or broken one, which must not push every event
// written from now on into its future.
const maxClockBack = time.Minute

// newestEventTime is the eventTime of the newest line of the log dir, for
// the writer to stamp every new line after it (audit.Options.After); zero
// when there is none or it is too far ahead (maxClockBack, logged).
func (s *Sidecar) newestEventTime() time.Time {
	t := s.cfg.ActivityTracker
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	page, err := store.New(store.Options{Dir: t.Dir, Filename: t.Filename}).List(ctx, store.Query{Limit: 1})
	if err != nil || len(page.Lines) == 0 {
		return time.Time{}
	}
	text, ok := event.LineTime(page.Lines[0])
	if !ok {
		return time.Time{}
	}
	newest, err := time.Parse(time.RFC3339Nano, string(text))
	if err != nil {
		return time.Time{}
	}
	if ahead := newest.Sub(time.Now()); ahead > maxClockBack {
		s.log.Warn("the newest line of the log dir is ahead of the clock; new lines are stamped by the clock, before it",
			"eventTime", string(text), "ahead", ahead.Round(time.Second))
		return time.Time{}
	}
	return newest
}

// openSeal loads the signing key and finds where the chain of the log dir
// stands (docs/integrity.md).
func (s *Sidecar) openSeal() error {
	in := s.cfg.Integrity
	if !in.Enabled {
		return nil
	}
	var key ed25519.PrivateKey
	if in.KeyFile != "" {
		var err error
		if key, err = integrity.LoadPrivateKey(in.KeyFile); err != nil {
			return &ConfigError{Key: "integrity.key_file", Value: in.KeyFile, Err: err}
		}
	}
	t := s.cfg.ActivityTracker
	files, err := store.New(store.Options{Dir: t.Dir, Filename: t.Filename}).Snapshot()
	if err != nil {
		return fmt.Errorf("integrity: find where the chain stands: %w", err)
	}
	st, err := integrity.Recover(files)
	files.Close()
	if err != nil {
		return fmt.Errorf("integrity: find where the chain stands: %w", err)
	}
	s.seal = integrity.NewSealer(st, key, t.Filename)
	return nil
}

func (s *Sidecar) startWebhooks() error {
	if !s.cfg.Webhooks.Enabled {
		return nil
	}
	d, err := webhook.New(s.cfg.Webhooks, webhook.Options{
		Metrics: s.metrics,
		Logger:  s.log,
		Report:  func(e *event.Event) { s.emit(e) },
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	s.webhooks = d
	return nil
}

func (s *Sidecar) buildProxy() error {
	up, _ := url.Parse(s.cfg.Upstream) // validated
	addr := up.Host
	if up.Port() == "" {
		port := "80"
		if up.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(up.Hostname(), port)
	}
	s.prober = &proxy.Prober{Addr: addr, Interval: s.opts.ProbeInterval, OnChange: s.upstreamChanged}
	failClosed := func() bool { return false }
	if s.cfg.ActivityTracker.OnWriteError == "fail_closed" {
		failClosed = func() bool { return !s.writer.Healthy() }
	}
	clientEvents, err := s.interceptClientEvents()
	if err != nil {
		return err
	}
	intercept := clientEvents
	if s.cfg.ConsoleLogs.Enabled {
		console := logs.NewConsole(s.logsHandler(), strings.TrimSuffix(s.cfg.Upstream, "/")+s.cfg.ConsoleLogs.AuthPath)
		intercept = func(r *http.Request) http.Handler {
			if console.Match(r) {
				return console
			}
			if clientEvents != nil {
				return clientEvents(r)
			}
			return nil
		}
	}
	p, err := proxy.New(proxy.Options{
		Upstream:        up,
		Transport:       s.opts.Transport,
		UpstreamTimeout: s.cfg.UpstreamTimeout,
		Rules:           s.rules,
		Sink:            s.writer,
		Metrics:         s.metrics,
		IDs:             s.ids,
		Trusted:         s.trusted,
		Identity:        s.creds,
		RequestIDHeader: s.cfg.RequestIDHeader,
		LogQuery:        s.cfg.ActivityTracker.LogQuery,
		RedactQuery:     slices.Concat(s.cfg.ActivityTracker.RedactQuery, s.creds.QueryTokens()), // a query token is a secret too
		RedactFields:    s.cfg.ActivityTracker.RedactFields,
		FailClosed:      failClosed,
		UpstreamFailed:  func(error) { s.prober.Kick() },
		Intercept:       intercept,
		Streams:         s.streams,
		Logger:          s.log,
	})
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	s.proxy = p
	return nil
}

func (s *Sidecar) upstreamChanged(reachable bool, err error) {
	if reachable {
		s.metrics.UpstreamUp.Set(1)
		s.log.Info("upstream reachable again", "upstream", s.upstream)
		s.emitSystem("system.upstream.recovered", event.LevelInfo, "upstream reachable again: "+s.upstream, nil)
		return
	}
	s.metrics.UpstreamUp.Set(0)
	s.log.Error("upstream unreachable", "upstream", s.upstream, "err", err)
	s.emitSystem("system.upstream.unreachable", event.LevelError,
		"upstream unreachable: "+s.upstream, (&event.Details{}).String("error", err.Error()).Object())
}

// redactedURL is raw with the password of its user info, if any, replaced:
// the upstream URL is written in events and logs.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// emitSystem records a system event.
func (s *Sidecar) emitSystem(typ, level, message string, details []byte) {
	s.emit(event.NewSystem(typ, level, message, details))
}

// writtenWait bounds how long a management answer waits for its own
// record to be in the file (docs/guarantees.md "Read your writes"): past
// it (a disk refusing writes), the answer goes out and the record, queued,
// is written when the disk allows.
const writtenWait = 5 * time.Second

// emitWritten queues e and waits, up to writtenWait or the end of ctx,
// until its line is in the file; an error only when e was not queued.
func (s *Sidecar) emitWritten(ctx context.Context, e *event.Event) error {
	ctx, cancel := context.WithTimeout(ctx, writtenWait)
	defer cancel()
	err := s.writer.EmitWritten(ctx, e)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.log.Warn("record queued, not yet in the file; answering anyway", "type", e.Type, "id", e.ID)
		return nil
	}
	return err
}

// recordWritten is emitWritten for the records of deletes, which have no
// answer to change when they cannot be queued (logged).
func (s *Sidecar) recordWritten(ctx context.Context, e *event.Event) {
	if err := s.emitWritten(ctx, e); err != nil && !errors.Is(err, audit.ErrClosed) {
		s.log.Error("record event", "type", e.Type, "err", err)
	}
}

func (s *Sidecar) emit(e *event.Event) {
	if err := s.writer.Emit(e); err != nil && !errors.Is(err, audit.ErrClosed) {
		s.log.Error("record event", "type", e.Type, "err", err)
	}
}

// ProxyURL is the proxy port's address as a URL.
func (s *Sidecar) ProxyURL() string { return "http://" + s.proxyLn.Addr().String() }

// AdminURL is the admin port's address as a URL.
func (s *Sidecar) AdminURL() string {
	if s.adminTLS {
		return "https://" + s.adminLn.Addr().String()
	}
	return "http://" + s.adminLn.Addr().String()
}

// AuditPath is the live audit file, or "" when the tracker is disabled.
func (s *Sidecar) AuditPath() string {
	if s.file == nil {
		return ""
	}
	return s.file.Path()
}

// Reopen reopens the audit file (SIGHUP).
func (s *Sidecar) Reopen() error {
	if s.file == nil {
		return nil
	}
	s.log.Info("reopening audit log", "path", s.file.Path())
	// The writer seals the file it holds first (docs/integrity.md
	// "Outside rotation"); a disk that refuses writes must not hang the
	// signal handler.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.writer.Reopen(ctx)
}

// Run serves until ctx ends, then shuts down: it stops accepting, ends
// streams, lets in-flight requests finish (up to ShutdownGrace), writes
// every event, system.trailcar.stopped last (only the writer's own records
// follow it: a last drop report, and the closing checkpoint), and closes
// the files.
func (s *Sidecar) Run(ctx context.Context) error {
	s.emitSystem("system.trailcar.started", event.LevelInfo, "trailcar started",
		(&event.Details{}).String("version", s.opts.Version).String("listen", s.proxyLn.Addr().String()).
			String("admin", s.adminLn.Addr().String()).String("upstream", s.upstream).Object())
	probeCtx, stopProbe := context.WithCancel(context.Background())
	defer stopProbe()
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		s.prober.Run(probeCtx)
	}()

	shipped := s.runShipper()

	errc := make(chan error, 2)
	go func() { errc <- serve(s.proxySrv, s.proxyLn) }()
	go func() { errc <- serve(s.adminSrv, s.adminLn) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("server stopped", "err", runErr)
	}
	stopProbe()
	<-probing // a probe ending now must not report after stopped
	err := s.shutdown()
	return errors.Join(runErr, err, shipped())
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Sidecar) shutdown() error {
	s.log.Info("shutting down", "grace", ShutdownGrace)
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	s.doneOnce.Do(func() { close(s.done) })
	s.streams.EndAll()
	var wg sync.WaitGroup
	var perr, aerr error
	wg.Add(2)
	go func() { defer wg.Done(); perr = s.proxySrv.Shutdown(ctx) }()
	go func() { defer wg.Done(); aerr = s.adminSrv.Shutdown(ctx) }()
	wg.Wait()
	if perr != nil {
		s.log.Warn("in-flight requests cut off at the end of the grace period", "err", perr)
		s.proxySrv.Close()
	}
	if aerr != nil {
		s.adminSrv.Close()
	}
	// Shutdown does not wait for hijacked connections: wait for the
	// websockets EndAll ended to record their events.
	if err := s.streams.Wait(ctx); err != nil {
		s.log.Warn("streams still running at the end of the grace period", "err", err)
	}
	s.emitSystem("system.trailcar.stopped", event.LevelInfo, "trailcar stopped", nil)
	return s.closeAll()
}

// closeAll flushes and closes what New opened, in order: the writer
// (which writes everything queued) before the file, webhooks last so they
// get the final events.
func (s *Sidecar) closeAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var errs []error
	for _, ln := range []net.Listener{s.proxyLn, s.adminLn} {
		if ln != nil {
			ln.Close()
		}
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close(ctx))
	}
	if s.webhooks != nil {
		// Deliveries still retrying after the drain are given up: logged
		// and counted (dropped), not a failed shutdown. The events are in
		// the audit log; a webhook is a copy.
		wctx, wcancel := context.WithTimeout(ctx, cmp.Or(s.opts.WebhookDrain, DefaultWebhookDrain))
		if err := s.webhooks.Close(wctx); err != nil {
			s.log.Warn("webhooks at shutdown", "err", err)
		}
		wcancel()
	}
	if s.file != nil {
		errs = append(errs, s.file.Close())
	}
	return errors.Join(errs...)
}
