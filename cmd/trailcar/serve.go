package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/sidecar"
)

type serveFlags struct {
	config, listen, upstream, adminListen, logDir string
}

func newServeCmd(s streams) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the sidecar: proxy port, audit log, admin port",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, s.out, s.err)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config file (default $TRAILCAR_CONFIG, else built-in defaults)")
	fl.StringVar(&f.listen, "listen", "", "proxy port address, overrides listen")
	fl.StringVar(&f.upstream, "upstream", "", "upstream app URL, overrides upstream")
	fl.StringVar(&f.adminListen, "admin-listen", "", "admin port address, overrides admin.listen")
	fl.StringVar(&f.logDir, "log-dir", "", "audit log directory, overrides activity_tracker.dir")
	return cmd
}

// load reads the config file and applies the flags over it.
func (f serveFlags) load() (sidecar.Config, error) {
	cfg, err := sidecar.LoadConfig(configPath(f.config))
	if err != nil {
		return cfg, err
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.upstream != "" {
		cfg.Upstream = f.upstream
	}
	if f.adminListen != "" {
		cfg.Admin.Listen = f.adminListen
	}
	if f.logDir != "" {
		cfg.ActivityTracker.Dir = f.logDir
	}
	return cfg, cfg.Validate()
}

// serve runs the sidecar until ctx ends (SIGINT, SIGTERM); SIGHUP reopens
// the audit log.
func serve(ctx context.Context, cfg sidecar.Config, stdout, stderr io.Writer) error {
	return runSidecar(ctx, cfg, stdout, stderr, nil)
}

// runSidecar starts a sidecar, calls started (if set) once it listens, and
// serves until ctx ends. stdout gets the audit lines with
// activity_tracker.stdout, and nothing else: every message goes to stderr.
func runSidecar(ctx context.Context, cfg sidecar.Config, stdout, stderr io.Writer, started func(*sidecar.Sidecar)) error {
	tuneGC()
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	sc, err := sidecar.New(cfg, sidecar.Options{Logger: logger, Version: version, Stdout: stdout})
	if err != nil {
		return err
	}
	if path := sc.AuditPath(); path != "" {
		fmt.Fprintf(stderr, "[event tracker] enabled logging for activity tracker: %s\n", path)
	} else {
		fmt.Fprintln(stderr, "[event tracker] disabled logging for activity tracker")
	}
	fmt.Fprintln(stderr, rulesLine(cfg))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := sc.Reopen(); err != nil {
				logger.Error("reopen audit log", "err", err)
			}
		}
	}()
	if started != nil {
		started(sc)
	}
	return sc.Run(ctx)
}

// tuneGC sets a soft memory limit of 96 MiB, unless GOMEMLIMIT says
// otherwise: past it the collector works harder before memory grows. The
// collection pace stays Go's default (GOGC=100, or what GOGC says). It was
// GOGC=300 while trailcar's request path allocated more than a bare proxy's;
// with its own transport it allocates fewer (129 against 144 per request)
// and, at the default pace, still costs less CPU per request than a tuned
// bare ReverseProxy. GOGC=300 would save about 10% more CPU, for about half
// again the peak memory (docs/performance.md "Proxy").
func tuneGC() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}
