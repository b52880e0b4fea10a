package sidecar_test

// A real sidecar for the metrics, webhooks, notifications and client events
// tests: both ports on 127.0.0.1:0, its own registry, a temp log dir, and
// helpers to read back what it wrote.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/trailcar/trailcar/sidecar"
)

// telemetrySidecar is a running sidecar under test.
type telemetrySidecar struct {
	*sidecar.Sidecar
	reg  *prometheus.Registry
	dir  string
	stop func() // stops it, writing every event; safe to call twice
}

// telemetryConfig is the defaults with both ports on loopback, a temp log
// dir and a fixed host, in front of upstream.
func telemetryConfig(t testing.TB, upstream string) sidecar.Config {
	cfg := sidecar.DefaultConfig()
	cfg.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Upstream = upstream
	cfg.Host = "test-host"
	cfg.ActivityTracker.Dir = t.TempDir()
	return cfg
}

// startTelemetry starts a sidecar with cfg and stops it at the end of the
// test.
func startTelemetry(t testing.TB, cfg sidecar.Config) *telemetrySidecar {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := sidecar.New(cfg, sidecar.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err != nil {
		t.Fatalf("sidecar.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	ts := &telemetrySidecar{Sidecar: s, reg: reg, dir: cfg.ActivityTracker.Dir}
	ts.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("sidecar did not stop within 30 s")
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// telDo sends a request and returns the status and body.
func telDo(t testing.TB, method, url, body string, header ...string) (int, string) {
	t.Helper()
	resp := telResp(t, method, url, body, header...)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func telResp(t testing.TB, method, url, body string, header ...string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// telEvent is one line of the audit files, decoded, with its raw text.
type telEvent struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Level    string          `json:"level"`
	Outcome  string          `json:"outcome"`
	Action   string          `json:"action"`
	Message  string          `json:"message"`
	Address  string          `json:"address"`
	Creds    map[string]any  `json:"creds"`
	Req      map[string]any  `json:"req"`
	Res      map[string]any  `json:"res"`
	Resource map[string]any  `json:"resource"`
	Details  json.RawMessage `json:"details"`
	raw      string
}

// telLogFiles are the audit files in dir (the live one and rotated ones; not
// the dot files the sidecar may keep there).
func telLogFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files
}

// telEvents reads every line of every audit file in dir. Every line must be a
// JSON object.
func telEvents(t testing.TB, dir string) []telEvent {
	t.Helper()
	var all []telEvent
	for _, f := range telLogFiles(t, dir) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e telEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: line %q: %v", f, sc.Text(), err)
			}
			e.raw = sc.Text()
			all = append(all, e)
		}
	}
	return all
}

// telWaitEvent polls the audit files until one event satisfies ok.
func telWaitEvent(t testing.TB, dir string, ok func(telEvent) bool) telEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range telEvents(t, dir) {
			if ok(e) {
				return e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no such event in the audit log within 10 s")
	return telEvent{}
}

// telFamily gathers reg and returns the family named name, or nil.
func telFamily(t testing.TB, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// telLabelKey writes a metric's labels as name=value pairs joined by ",", in
// the order Gather sorts them.
func telLabelKey(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// telCounters returns a counter family's values by telLabelKey.
func telCounters(t testing.TB, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	if mf := telFamily(t, reg, name); mf != nil {
		for _, m := range mf.GetMetric() {
			out[telLabelKey(m)] = m.GetCounter().GetValue()
		}
	}
	return out
}

// telRecorder is a webhook receiver: a real server that keeps every body.
type telRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	reqs   []*http.Request
}

// newTelRecorder starts a receiver answering with status.
func newTelRecorder(t testing.TB, status int) *telRecorder {
	rec := &telRecorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, b)
		rec.reqs = append(rec.reqs, r.Clone(context.Background()))
		rec.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// delivered decodes the bodies received, in arrival order.
func (rec *telRecorder) delivered(t testing.TB) []telWebhookBody {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []telWebhookBody
	for _, b := range rec.bodies {
		var wb telWebhookBody
		if err := json.Unmarshal(b, &wb); err != nil {
			t.Fatalf("webhook body %q: %v", b, err)
		}
		out = append(out, wb)
	}
	return out
}

type telWebhookBody struct {
	NotificationType string          `json:"notification_type"`
	Event            json.RawMessage `json:"event"`
}

// telDeadAddr is a loopback address where nothing listens.
func telDeadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
