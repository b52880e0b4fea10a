package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/webhook"
)

// BenchmarkPublish measures what Publish costs the code that writes events,
// on each of its paths. The receiver hangs and every worker is busy with it
// before the clock starts, so no delivery work runs alongside and allocs/op
// is Publish's own.
func BenchmarkPublish(b *testing.B) {
	info := line(b, event.TypeHTTP, event.LevelInfo)
	system := line(b, "system.upstream.unreachable", event.LevelError)
	benchmarks := []struct {
		name   string
		levels []string
		types  []string
		queue  int
		line   []byte
	}{
		{"filtered_out_by_level", []string{"error"}, nil, 1, info},
		{"filtered_out_by_type", nil, []string{"system.*", "client"}, 1, info},
		{"queued", nil, nil, 4096, info},
		{"queued_level_and_type_globs", []string{"error"}, []string{"client", "system.*"}, 4096, system},
		{"dropped_queue_full", nil, nil, 1, info},
	}
	var arrived atomic.Int64
	recv := sidecartest.NewRecorderFunc(b, func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-r.Context().Done()
	})
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			cfg := webhook.DefaultConfig()
			cfg.Enabled = true
			cfg.Endpoints.EventLog.URL = recv.URL
			cfg.Levels, cfg.Types, cfg.Queue = bm.levels, bm.types, bm.queue
			b.ReportAllocs()
			// In batches of one queue's worth, so that "queued" stays
			// queued: a new dispatcher for each, made and closed off the
			// clock.
			for done := 0; done < b.N; done += cfg.Queue {
				b.StopTimer()
				d := newBenchDispatcher(b, cfg)
				if bm.queue > 1 {
					// Occupy every worker first, so that the batch
					// is queued whole and no delivery runs on the clock.
					want := arrived.Load() + workers
					for range workers {
						d.Publish(bm.line)
					}
					for arrived.Load() < want {
						time.Sleep(time.Millisecond)
					}
				}
				b.StartTimer()
				n := b.N - done
				if bm.queue > 1 {
					n = min(n, cfg.Queue)
				}
				for range n {
					d.Publish(bm.line)
				}
				b.StopTimer()
				closeNow(d)
				if bm.queue == 1 {
					break
				}
			}
		})
	}
}

// BenchmarkDeliver measures delivery throughput to a local receiver
// (loopback, keep-alive): one event per POST by 4 workers, and batches of
// 10 and 100 by one; ns/op and allocs/op are per delivered event, posts/op
// is POSTs per event.
func BenchmarkDeliver(b *testing.B) {
	for _, maxEvents := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("max_events=%d", maxEvents), func(b *testing.B) {
			var posts atomic.Int64
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				posts.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer recv.Close()
			cfg := webhook.DefaultConfig()
			cfg.Enabled = true
			cfg.Endpoints.EventLog.URL = recv.URL
			cfg.Queue = b.N
			cfg.Batch.MaxEvents = maxEvents
			d := newBenchDispatcher(b, cfg)
			l := line(b, event.TypeHTTP, event.LevelInfo)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				d.Publish(l)
			}
			if err := d.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(posts.Load())/float64(b.N), "posts/op")
		})
	}
}

// workers is how many deliveries a Dispatcher runs at once (its doc).
const workers = 4

func newBenchDispatcher(b *testing.B, cfg webhook.Config) *webhook.Dispatcher {
	d, err := webhook.New(cfg, webhook.Options{Metrics: metrics.Discard(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// closeNow closes d, abandoning what it holds.
func closeNow(d *webhook.Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Close(ctx)
}
