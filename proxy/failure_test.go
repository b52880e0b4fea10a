package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy"
)

// TestUnreachableUpstream: a closed upstream port is a 502 with a JSON
// error, a failure event, a counted error and a call to UpstreamFailed.
func TestUnreachableUpstream(t *testing.T) {
	var failed atomic.Int64
	h := newHarness(t, nil, harnessOptions{configure: func(o *proxy.Options) {
		o.UpstreamFailed = func(err error) {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("UpstreamFailed(%v), want connection refused", err)
			}
			failed.Add(1)
		}
	}})
	const n = 3
	for range n {
		resp, err := h.client().Post(h.front.URL+"/api/v3/components", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == "" {
			t.Errorf("body: %+v, %v; want {\"error\": ...}", body, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %d %q, want 502 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !hexID.MatchString(resp.Header.Get("X-Request-Id")) {
			t.Errorf("502 without the request id")
		}
	}
	events := h.events(n)
	if len(events) != n {
		t.Fatalf("got %d events, want %d", len(events), n)
	}
	for _, e := range events {
		d := detailsOf(t, e.Details)
		if e.Outcome != "failure" || e.Level != "error" || e.Res.StatusCode != 502 || d["upstream_error"] == nil {
			t.Errorf("event %+v, details %v", e, d)
		}
	}
	if got := testutil.ToFloat64(h.metrics.UpstreamErrors.WithLabelValues("refused")); got != n {
		t.Errorf("upstream_errors_total{reason=refused} = %v, want %d", got, n)
	}
	if got := failed.Load(); got != n {
		t.Errorf("UpstreamFailed called %d times, want %d", got, n)
	}
}

// TestProber: however many probes fail, an outage is one OnChange(false),
// and the recovery one OnChange(true).
func TestProber(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var down atomic.Bool
	var dials atomic.Int64
	var mu sync.Mutex
	var changes []bool
	p := &proxy.Prober{
		Addr:     ln.Addr().String(),
		Interval: 5 * 1e6, // 5ms
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			if down.Load() {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		OnChange: func(reachable bool, err error) {
			if reachable != (err == nil) {
				t.Errorf("OnChange(%v, %v)", reachable, err)
			}
			mu.Lock()
			changes = append(changes, reachable)
			mu.Unlock()
		},
	}
	got := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return append([]bool(nil), changes...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	probesAfter := func(n int64) {
		t.Helper()
		start := dials.Load()
		sidecartest.Eventually(t, fmt.Sprintf("%d more probes", n), func() bool {
			p.Kick()
			return dials.Load() >= start+n
		})
	}
	probesAfter(5)
	if c := got(); len(c) != 0 {
		t.Fatalf("changes %v while the upstream was up", c)
	}
	if ok, _ := p.Reachable(); !ok {
		t.Fatal("Reachable() = false while up")
	}
	down.Store(true)
	probesAfter(30)
	if c := got(); len(c) != 1 || c[0] {
		t.Fatalf("changes %v after an outage, want [false]", c)
	}
	if ok, err := p.Reachable(); ok || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Reachable() = %v, %v during the outage", ok, err)
	}
	down.Store(false)
	probesAfter(30)
	if c := got(); len(c) != 2 || c[0] || !c[1] {
		t.Fatalf("changes %v after recovery, want [false true]", c)
	}
}

// TestClientAbort: a client leaving mid-body still gets its request
// recorded, once, and the server goes on serving.
func TestClientAbort(t *testing.T) {
	var sent atomic.Int64
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v3/ok" {
			w.WriteHeader(201)
			return
		}
		rc := http.NewResponseController(w)
		chunk := []byte(strings.Repeat("z", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent.Add(int64(len(chunk)))
			if rc.Flush() != nil {
				return
			}
		}
	}), harnessOptions{})
	conn, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/v3/exports HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	conn.Close() // mid-body

	events := h.events(1)
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	e := events[0]
	if v := h.panics.Load(); v != http.ErrAbortHandler {
		t.Errorf("the handler passed on %v, want http.ErrAbortHandler re-panicked", v)
	}
	if d := detailsOf(t, e.Details); d["aborted"] == nil {
		t.Errorf("details %v, want aborted", d)
	}
	if e.Res.StatusCode != 200 || e.Res.Bytes < 100<<10 || e.Res.Bytes > sent.Load() {
		t.Errorf("res %+v; the client read 100 KiB, the upstream sent %d", e.Res, sent.Load())
	}

	resp, err = h.client().Post(h.front.URL+"/api/v3/ok", "text/plain", nil)
	if err != nil {
		t.Fatalf("the proxy stopped serving after an abort: %v", err)
	}
	resp.Body.Close()
	if n := len(h.events(2)); n != 2 {
		t.Errorf("got %d events after a second request, want 2", n)
	}
	if got := testutil.ToFloat64(h.metrics.HTTPRequests.WithLabelValues("POST", "200")); got != 1 {
		t.Errorf("http_requests_total{POST,200} = %v, want 1 (the aborted one)", got)
	}
}

// TestFailClosed: while the audit log cannot be written, tracked requests
// are refused rather than served unaudited.
func TestFailClosed(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		upstream    int
		want        int
		reaches     bool
		wantRefused bool
	}{
		{"tracked POST refused before the upstream", "POST", "/api/v3/components", 201, 503, false, true},
		{"untracked GET passes", "GET", "/api/v3/components", 200, 200, true, false},
		{"GET answered 403 refused", "GET", "/api/v3/settings/secret", 403, 503, true, true},
		{"ignored POST passes", "POST", "/api/v3/proxy/x", 200, 200, true, false},
	}
	for _, tt := range tests {
		for _, h2 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/http2=%v", tt.name, h2), func(t *testing.T) {
				var reached atomic.Int64
				h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached.Add(1)
					w.Header().Set("X-Audit-Message", "should not leak")
					w.WriteHeader(tt.upstream)
					io.WriteString(w, "upstream body")
				}), harnessOptions{http2: h2, configure: func(o *proxy.Options) {
					o.FailClosed = func() bool { return true }
					o.Streams = &proxy.Streams{}
				}})
				req, _ := http.NewRequest(tt.method, h.front.URL+tt.path, nil)
				resp, err := h.client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
				}
				if found := auditHeadersIn(resp.Header); len(found) > 0 {
					t.Errorf("client got %v", found)
				}
				if tt.want == 503 && (!json.Valid(body) || !strings.Contains(string(body), `"error"`)) {
					t.Errorf("body %q, want a JSON error", body)
				}
				if got := reached.Load() > 0; got != tt.reaches {
					t.Errorf("upstream reached: %v, want %v", got, tt.reaches)
				}
				events := h.events(1)
				if !tt.wantRefused {
					if len(events) != 0 {
						t.Errorf("events %+v, want none", events)
					}
					return
				}
				if len(events) != 1 {
					t.Fatalf("got %d events, want 1 (with details.refused)", len(events))
				}
				if d := detailsOf(t, events[0].Details); d["refused"] == nil || events[0].Res.StatusCode != 503 {
					t.Errorf("event %+v, details %v", events[0], d)
				}
			})
		}
	}
}
