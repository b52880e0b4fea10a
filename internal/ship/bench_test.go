package ship_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/victorialogs"
	"github.com/trailcar/trailcar/rotate"
)

// BenchmarkShipCatchUp: the catch-up after an outage, from the files
// (2 MiB files, gzip) into a single-node VictoriaLogs on the same
// machine, in lines per second (docs/shipping.md "Cost").
func BenchmarkShipCatchUp(b *testing.B) {
	const lines = 200000
	vl := victorialogs.Start(b)
	dir := b.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 2, Compress: true})
	if err != nil {
		b.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Service: "bench", Host: "h", Metrics: metrics.Discard()})
	msg := strings.Repeat("m", 200)
	for i := range lines {
		w.Emit(&event.Event{Type: "http", Level: "info", Outcome: "success", Action: "bench.things.create",
			Creds: event.Creds{UUID: "u", Name: "alice", Type: "user"},
			Req:   event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/things/%d", i)}, Res: event.Response{StatusCode: 201}, Message: msg})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w.Close(ctx)
	f.Close()
	b.ResetTimer()
	var elapsed time.Duration
	for i := range b.N {
		cfg := ship.DefaultConfig()
		cfg.URL = vlURL(vl.URL)
		m := ship.NewMetrics(prometheus.NewRegistry())
		s, err := ship.New(ship.Options{Config: cfg, Dir: dir, Position: fmt.Sprintf("%s/pos-%d", b.TempDir(), i), Metrics: m})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- s.Run(context.Background()) }()
		for testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) < lines {
			time.Sleep(5 * time.Millisecond)
		}
		elapsed += time.Since(start)
		s.Stop()
		<-done
	}
	b.ReportMetric(float64(lines*b.N)/elapsed.Seconds(), "lines/s")
}
