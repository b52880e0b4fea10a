package webhook_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/webhook"
)

// harness is a Dispatcher with its own metrics.
type harness struct {
	*webhook.Dispatcher
	reg     *prometheus.Registry
	metrics *metrics.Metrics
}

// fastBackoff keeps retries quick in tests.
func fastBackoff(int) time.Duration { return 5 * time.Millisecond }

// newHarness starts a dispatcher; it is closed at the end of the test if
// the test did not close it.
func newHarness(t testing.TB, cfg webhook.Config, opts webhook.Options) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry()}
	h.metrics = metrics.New(h.reg)
	opts.Metrics = h.metrics
	if opts.Backoff == nil {
		opts.Backoff = fastBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := webhook.New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.Dispatcher = d
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return h
}

// count returns trailcar_webhook_deliveries_total{endpoint,result}.
func (h *harness) count(endpoint, result string) float64 {
	return testutil.ToFloat64(h.metrics.WebhookDeliveries.WithLabelValues(endpoint, result))
}

// close drains the dispatcher, failing the test if that takes over 5 s.
func (h *harness) close(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// config returns an enabled config posting to url as event_log.
func config(url string) webhook.Config {
	cfg := webhook.DefaultConfig()
	cfg.Enabled = true
	cfg.Endpoints.EventLog.URL = url
	cfg.RetryFor = 2 * time.Second
	return cfg
}

// encode returns e as one line, with an id and time if it has none.
func encode(t testing.TB, e *event.Event) []byte {
	t.Helper()
	if e.ID == "" {
		e.ID = (&event.IDs{}).New()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Outcome == "" {
		e.Outcome = event.OutcomeSuccess
	}
	line, err := event.AppendJSON(nil, e)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return line
}

func line(t testing.TB, typ, level string) []byte {
	return encode(t, &event.Event{Type: typ, Level: level, Service: "console", Host: "h"})
}
