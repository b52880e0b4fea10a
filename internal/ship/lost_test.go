package ship_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/rotate"
)

// TestShipLostLines: the store is down longer than retention keeps the
// files (3 rotated files of 1 MiB); the lines pruned meanwhile are
// counted lost and reported once per batch that passes them, with their
// time range, and lost + in the store = every line written.
func TestShipLostLines(t *testing.T) {
	fake := &fakeBulk{ids: map[string]int{}, fail: 1 << 30}
	srv := newFake(t, fake)
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, MaxFiles: 3, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Service: "lost", Host: "h", Metrics: metrics.Discard()})
	cfg := shipConfig(srv+"/base?keep=1", ship.Elasticsearch)
	cfg.Index = "audit"
	m := ship.NewMetrics(prometheus.NewRegistry())
	var mu sync.Mutex
	var reports []ship.Report
	r := startShipper(t, ship.Options{Config: cfg, Dir: dir, Poll: 10 * time.Millisecond, Metrics: m,
		Report: func(rep ship.Report) { mu.Lock(); reports = append(reports, rep); mu.Unlock() }})

	const total = 16000 // ~10 MiB: 10 rotations, 3 files kept
	pad := strings.Repeat("p", 500)
	for i := range total {
		w.Emit(&event.Event{Type: "http", Level: "info", Outcome: "success", Req: event.Request{Method: "POST", Path: fmt.Sprintf("/x/%d", i)}, Message: pad})
		if i%500 == 0 {
			time.Sleep(100 * time.Millisecond) // rotations over several seconds: the inventory sees each file
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fake.mu.Lock()
	fake.fail = 0 // the store is back
	fake.mu.Unlock()
	lines, _ := filesLines(t, dir)
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(m.Lines.WithLabelValues("shipped"))+testutil.ToFloat64(m.Lines.WithLabelValues("lost")) < total {
		if time.Now().After(deadline) {
			fake.mu.Lock()
			t.Fatalf("shipped %v + lost %v < %d written; store has %d, files %d lines", testutil.ToFloat64(m.Lines.WithLabelValues("shipped")), testutil.ToFloat64(m.Lines.WithLabelValues("lost")), total, len(fake.ids), lines)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	r.stopClean(t)

	shipped := testutil.ToFloat64(m.Lines.WithLabelValues("shipped"))
	lost := testutil.ToFloat64(m.Lines.WithLabelValues("lost"))
	fake.mu.Lock()
	stored := len(fake.ids)
	fake.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	reported := 0
	for _, rep := range reports {
		if rep.Kind != "lost" || rep.From == "" || rep.To < rep.From {
			t.Errorf("report %+v", rep)
		}
		reported += rep.Count
	}
	if stored+int(lost) != total || int(shipped) != stored || reported != int(lost) || lost == 0 {
		t.Fatalf("written %d: stored %d, shipped %v, lost %v (reported %d); %d lines left in the files", total, stored, shipped, lost, reported, lines)
	}
	t.Logf("written %d, %d left in the files; shipped %d, lost %v (in %d reports)", total, lines, stored, lost, len(reports))
}

var _ = http.StatusOK
