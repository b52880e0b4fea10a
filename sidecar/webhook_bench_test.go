package sidecar_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// BenchmarkProxyLatencyWebhook measures what a webhook receiver that hangs
// costs proxied requests: the contract says nothing at all. Three sidecars with
// the default configuration but every request tracked run side by side in
// front of one upstream: without webhooks, with a receiver that answers at
// once, and with one that never answers (deliveries time out after 2 s and
// are retried for 30 s; once the 10000-event queue is full, events are
// dropped). Load goes to them in turns, rounds of 100 requests each, so that
// whatever else the machine does falls on all three alike. One op is one
// POST to each sidecar, from 16 concurrent clients; the quantiles are exact,
// over every request to that sidecar; ratio-p99 is hanging/none. After
// each round a sidecar finishes its own work (writes, deliveries) before the
// next one is loaded.
//
//	go test ./sidecar -run '^$' -bench ProxyLatencyWebhook -benchtime 20000x -count 3
func BenchmarkProxyLatencyWebhook(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"w1","name":"widget","status":"created","owner":"alice","tags":["a","b"],"size":96}`)
	}))
	b.Cleanup(up.Close)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(healthy.Close)
	hanging, release := sidecartest.NewHangingRecorder(b)

	targets := []*latencyTarget{
		{name: "none", webhook: ""},
		{name: "hanging", webhook: hanging.URL},
		{name: "healthy", webhook: healthy.URL},
	}
	for _, tg := range targets {
		cfg := sidecartest.Config(b, up.URL)
		cfg.ActivityTracker.Track.Always = []string{"/**"}
		cfg.ActivityTracker.IgnoreRoutes = nil
		if tg.webhook != "" {
			cfg.Webhooks.Enabled = true
			cfg.Webhooks.Endpoints.EventLog.URL = tg.webhook
		}
		tg.sidecar = sidecartest.Start(b, cfg)
		tg.url = tg.sidecar.ProxyURL() + "/api/v3/widgets"
		tg.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: latencyClients}}
		tg.load(b, 2*latencyClients) // warm the connections
		tg.latencies = nil
	}
	b.Cleanup(release) // before the sidecars stop: let the hanging one's queue drain

	const round = 100
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		for _, tg := range targets {
			tg.load(b, min(round, b.N-done))
			tg.settle(b)
		}
	}
	b.StopTimer()
	for _, tg := range targets {
		slices.Sort(tg.latencies)
		b.ReportMetric(tg.quantile(0.50), tg.name+"-p50-us")
		b.ReportMetric(tg.quantile(0.99), tg.name+"-p99-us")
		b.ReportMetric(tg.quantile(0.999), tg.name+"-p99.9-us")
	}
	b.ReportMetric(targets[1].quantile(0.99)/targets[0].quantile(0.99), "ratio-p99")
}

// latencyClients is how many requests are in flight at once.
const latencyClients = 16

// latencyTarget is one sidecar under load and every latency measured.
type latencyTarget struct {
	name, webhook, url string
	sidecar            *sidecartest.Sidecar
	client             *http.Client
	latencies          []time.Duration
}

// settle waits until the sidecar has written what it was sent and, with a
// receiver that answers, delivered it: so that its leftover work does not
// fall on the next target's round.
func (tg *latencyTarget) settle(b *testing.B) {
	queues := []string{"trailcar_audit_queue_length"}
	if tg.name == "healthy" {
		queues = append(queues, "trailcar_webhook_queue_length")
	}
	for _, q := range queues {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if mf := sidecartest.Family(b, tg.sidecar.Reg, q); mf.GetMetric()[0].GetGauge().GetValue() == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %s still not empty after a minute", tg.name, q)
			}
		}
	}
}

// load sends n POSTs from latencyClients concurrent clients and keeps the
// latency of each.
func (tg *latencyTarget) load(b *testing.B, n int) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, latencyClients)
	for range latencyClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := tg.send(); err != nil {
					errs <- err
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			tg.latencies = append(tg.latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func (tg *latencyTarget) send() error {
	resp, err := tg.client.Post(tg.url, "application/json", http.NoBody)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", tg.name, resp.StatusCode)
	}
	return nil
}

// quantile of the sorted latencies, in microseconds.
func (tg *latencyTarget) quantile(p float64) float64 {
	if len(tg.latencies) == 0 {
		return 0
	}
	i := min(len(tg.latencies)-1, int(p*float64(len(tg.latencies))))
	return float64(tg.latencies[i].Microseconds())
}
