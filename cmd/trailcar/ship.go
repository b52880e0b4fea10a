package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/sidecar"
)

// shipStopWait is how long trailcar ship, told to stop, waits for the
// batch in flight before giving it up (it is sent again at the next
// start); under Kubernetes' 30 s grace.
const shipStopWait = 20 * time.Second

// newShipCmd is trailcar ship: the sidecar's shipper without the sidecar,
// for a separate container or a node agent (docs/shipping.md "trailcar
// ship").
func newShipCmd(s streams) *cobra.Command {
	var path, dir, position, metricsListen string
	cmd := &cobra.Command{
		Use:   "ship",
		Short: "Ship the log dir to the ship: store, without serving",
		Long: `Ship every line of the log dir to the store of the config's ship: block,
as the sidecar does with ship.enabled, and keep at it until SIGTERM, which
finishes the batch in flight and saves the position (exit 0).

It writes nothing into the dir but .ship-position (--position FILE puts it
elsewhere, for a read-only mount) and .ship-lock (beside the position
file), so one shipper works a dir at a time. Lines the store rejects are
reported on stderr as JSON, and counted in the metrics that
--metrics-listen serves.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := sidecar.LoadConfig(configPath(path))
			if err != nil {
				return err
			}
			if dir != "" {
				cfg.ActivityTracker.Dir = dir
			}
			if cfg.Ship.URL == "" {
				return usagef("ship: the config sets no ship.url")
			}
			return runShip(cmd.Context(), s, cfg, position, metricsListen)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "config file (default $TRAILCAR_CONFIG, else built-in defaults)")
	cmd.Flags().StringVar(&dir, "dir", "", "the log dir (default activity_tracker.dir)")
	cmd.Flags().StringVar(&position, "position", "", "the position file (default {dir}/.ship-position)")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "serve /metrics on this address (e.g. :9091)")
	return cmd
}

func runShip(ctx context.Context, s streams, cfg sidecar.Config, position, metricsListen string) error {
	dir := cfg.ActivityTracker.Dir
	if position == "" {
		position = filepath.Join(dir, ship.PositionFile)
	}
	unlock, err := ship.Lock(filepath.Join(filepath.Dir(position), ship.LockFile))
	if err != nil {
		return err
	}
	defer unlock()
	log := slog.New(slog.NewJSONHandler(s.err, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := ship.NewMetrics(reg)
	if metricsListen != "" {
		ln, err := net.Listen("tcp", metricsListen)
		if err != nil {
			return usagef("--metrics-listen: %v", err)
		}
		srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("metrics", "listen", ln.Addr().String())
	}
	enc := json.NewEncoder(s.err)
	sh, err := ship.New(ship.Options{
		Config: cfg.Ship, Dir: dir, Filename: cfg.ActivityTracker.Filename, Position: position,
		Service: cfg.Service, Host: cfg.Host, Metrics: m, Logger: log,
		Report: func(r ship.Report) {
			enc.Encode(struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
				ship.Report
			}{"ERROR", fmt.Sprintf("the log store %s %d lines", r.Kind, r.Count), r})
		},
	})
	if err != nil {
		return usageError{err}
	}
	hard, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sh.Run(hard) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sh.Stop()
	select {
	case err := <-done:
		return err
	case <-time.After(shipStopWait):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		return err
	}
	return errors.New("stopped with a batch undelivered after " + shipStopWait.String() + "; it is sent again at the next start")
}
