package sidecar_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

func okUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		io.WriteString(w, `{"ok":true}`)
	})
}

// TestSidecarLifecycle: started first, the requests' events, stopped last;
// health, readiness and metrics on the admin port.
func TestSidecarLifecycle(t *testing.T) {
	up := httptest.NewServer(okUpstream())
	defer up.Close()
	c := sidecartest.Start(t, sidecartest.Config(t, up.URL))

	status, hdr, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/components", `{"name":"x"}`)
	if status != 201 {
		t.Fatalf("POST through the proxy: %d", status)
	}
	postID := hdr.Get("X-Request-Id")
	if status, _, _ := sidecartest.Do(t, "GET", c.ProxyURL()+"/api/v3/components", ""); status != 200 {
		t.Fatalf("GET through the proxy: %d", status)
	}
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, `"ok"`},
		{"/readyz", 200, `"ready"`},
	} {
		if status, _, body := sidecartest.Do(t, "GET", c.Sidecar.AdminURL()+tt.path, ""); status != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: %d %s", tt.path, status, body)
		}
	}
	c.WaitLine("the POST's event", func(l sidecartest.Line) bool { return l.ID == postID })
	want := []string{
		`trailcar_http_requests_total{code="201",method="POST"} 1`,
		`trailcar_http_requests_total{code="200",method="GET"} 1`,
		"trailcar_http_request_duration_seconds_bucket",
		`trailcar_events_total{level="info",outcome="success",type="http"} 1`,
		`trailcar_events_total{level="info",outcome="success",type="system"}`,
		// Label sets without a child yet (upstream_errors_total,
		// events_dropped_total, webhook_deliveries_total) have no series.
		"trailcar_audit_write_errors_total 0", "trailcar_audit_bytes_written_total",
		"trailcar_audit_rotations_total 0", "trailcar_audit_queue_length", "go_goroutines", "process_",
	}
	var missing []string
	deadline := time.Now().Add(sidecartest.Wait)
	for {
		// A request is counted as its handler returns, which may be just
		// after the client has its answer: poll.
		_, _, metrics := sidecartest.Do(t, "GET", c.Sidecar.AdminURL()+"/metrics", "")
		missing = missing[:0]
		for _, name := range want {
			if !strings.Contains(metrics, name) {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("/metrics lacks %q", missing)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	lines := c.Events()
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want started, the POST, stopped: %+v", len(lines), lines)
	}
	started, post, stopped := lines[0], lines[1], lines[2]
	if started.Type != "system.trailcar.started" || started.DetailsMap["listen"] != strings.TrimPrefix(c.ProxyURL(), "http://") ||
		started.DetailsMap["version"] != "test" || started.Service != "console" || started.Host != "test-host" {
		t.Errorf("first line %+v %v", started.Event, started.DetailsMap)
	}
	if post.ID != postID || post.Action != "console.components.create" || post.Res.StatusCode != 201 {
		t.Errorf("second line %+v", post.Event)
	}
	if stopped.Type != "system.trailcar.stopped" {
		t.Errorf("last line %+v", stopped.Event)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i].Time.Before(lines[i-1].Time) {
			t.Errorf("line %d is older than line %d", i+1, i)
		}
	}
}

// TestUpstreamOutage: one unreachable and one recovered event per outage,
// however many requests fail; /readyz follows.
func TestUpstreamOutage(t *testing.T) {
	addr := sidecartest.FreeAddr(t)
	stopUp := sidecartest.UpstreamAt(t, addr, okUpstream())
	c := sidecartest.Start(t, sidecartest.Config(t, "http://"+addr))
	readyz := func() (int, string) {
		status, _, body := sidecartest.Do(t, "GET", c.Sidecar.AdminURL()+"/readyz", "")
		return status, body
	}
	if status, body := readyz(); status != 200 {
		t.Fatalf("readyz %d %s while the upstream is up", status, body)
	}

	stopUp()
	const failing = 25
	for i := range failing {
		status, _, body := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/widgets", "{}")
		if status != http.StatusBadGateway || !json.Valid([]byte(body)) {
			t.Fatalf("request %d during the outage: %d %s", i, status, body)
		}
	}
	sidecartest.Eventually(t, "readyz to say 503 naming the upstream", func() bool {
		status, body := readyz()
		return status == 503 && strings.Contains(body, addr)
	})

	sidecartest.UpstreamAt(t, addr, okUpstream())
	sidecartest.Eventually(t, "readyz 200 after recovery", func() bool { s, _ := readyz(); return s == 200 })
	if status, _, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/widgets", "{}"); status != 201 {
		t.Fatalf("after recovery: %d", status)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	lines := c.Lines()
	down, up := sidecartest.OfType(lines, "system.upstream.unreachable"), sidecartest.OfType(lines, "system.upstream.recovered")
	if len(down) != 1 || len(up) != 1 || !down[0].Time.Before(up[0].Time) {
		t.Fatalf("%d unreachable and %d recovered events, want one each, in that order", len(down), len(up))
	}
	if down[0].Level != "error" || down[0].Outcome != "failure" || !strings.Contains(down[0].Message, addr) {
		t.Errorf("unreachable event %+v", down[0].Event)
	}
	var failed int
	for _, l := range sidecartest.OfType(lines, "http") {
		if l.Res.StatusCode == 502 && l.DetailsMap["upstream_error"] != nil {
			failed++
		}
	}
	if failed != failing {
		t.Errorf("%d events of failed requests, want %d", failed, failing)
	}
}

// TestAuditFileDeleted: a live file deleted from outside is noticed (with
// no request to trigger a write), recreated, and reported in the new file.
func TestAuditFileDeleted(t *testing.T) {
	up := httptest.NewServer(okUpstream())
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	// Odd bytes in the directory's name end up in the event's details.
	cfg.ActivityTracker.Dir = filepath.Join(t.TempDir(), "lo\"gs\x01\xff")
	c := sidecartest.Start(t, cfg)
	c.WaitLine("started", func(l sidecartest.Line) bool { return l.Type == "system.trailcar.started" })
	path := c.Sidecar.AuditPath()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	c.WaitLine("system.audit.file_replaced in the recreated file", func(l sidecartest.Line) bool {
		return l.Type == "system.audit.file_replaced"
	})
	t.Logf("noticed after %v", time.Since(deleted))
	_, hdr, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/widgets", "{}")
	c.WaitLine("the request's event in the new file", func(l sidecartest.Line) bool { return l.ID == hdr.Get("X-Request-Id") })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := c.Events()
	if len(lines) != 3 || lines[0].Type != "system.audit.file_replaced" || lines[0].DetailsMap["reason"] != "deleted" ||
		lines[2].Type != "system.trailcar.stopped" {
		t.Errorf("new file: %+v", lines)
	}
}

// TestReopen: after the live file was moved away, Reopen (SIGHUP) starts a
// new one; the moved file keeps what was written before, and its
// checkpoint.
func TestReopen(t *testing.T) {
	up := httptest.NewServer(okUpstream())
	defer up.Close()
	c := sidecartest.Start(t, sidecartest.Config(t, up.URL))
	_, before, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/widgets", "{}")
	c.WaitLine("the first event", func(l sidecartest.Line) bool { return l.ID == before.Get("X-Request-Id") })
	moved := filepath.Join(t.TempDir(), "moved.log")
	if err := os.Rename(c.Sidecar.AuditPath(), moved); err != nil {
		t.Fatal(err)
	}
	if err := c.Sidecar.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Sidecar.AuditPath()); err != nil {
		t.Fatalf("no new live file after Reopen: %v", err)
	}
	_, after, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/widgets", "{}")
	c.WaitLine("the second event in the new file", func(l sidecartest.Line) bool { return l.ID == after.Get("X-Request-Id") })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(moved)
	if err != nil {
		t.Fatal(err)
	}
	// The moved file keeps what was written before, sealed where it went
	// (docs/integrity.md "Outside rotation").
	old := sidecartest.ParseLines(t, "moved.log", data)
	if len(old) != 3 || old[1].ID != before.Get("X-Request-Id") || old[2].Type != "system.audit.checkpoint" {
		t.Errorf("moved file: %+v", old)
	}
}

// TestShutdownFinishesInFlight: a request in flight when shutdown begins
// is answered, and its event is written before stopped.
func TestShutdownFinishesInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.WriteHeader(201)
		io.WriteString(w, "done")
	}))
	defer up.Close()
	c := sidecartest.Start(t, sidecartest.Config(t, up.URL))
	type result struct {
		status int
		id     string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := sidecartest.Client().Post(c.ProxyURL()+"/api/v3/slow", "text/plain", nil)
		if err != nil {
			res <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode, id: resp.Header.Get("X-Request-Id")}
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop() }()
	proxyAddr := strings.TrimPrefix(c.ProxyURL(), "http://")
	sidecartest.Eventually(t, "the proxy port to stop accepting", func() bool {
		conn, err := net.Dial("tcp", proxyAddr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	close(release)
	r := <-res
	if r.err != nil || r.status != 201 {
		t.Fatalf("in-flight request: %d, %v", r.status, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	lines := c.Events()
	last := len(lines) - 1
	if last < 1 || lines[last].Type != "system.trailcar.stopped" || lines[last-1].ID != r.id {
		t.Fatalf("want the slow request's event just before stopped: %+v", lines)
	}
}

// TestShutdownEndsStreams: server-sent events and websockets in progress
// are ended at shutdown instead of holding it for the grace period, and
// their events are written before stopped.
func TestShutdownEndsStreams(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
			io.Copy(conn, brw) // echo until either side closes
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Audit-Track", "true")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if http.NewResponseController(w).Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.Track.Always = append(cfg.ActivityTracker.Track.Always, "/ws")
	c := sidecartest.Start(t, cfg)
	proxyAddr := strings.TrimPrefix(c.ProxyURL(), "http://")

	sse, err := sidecartest.Client().Get(c.ProxyURL() + "/api/v3/ticks")
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	sseLines := bufio.NewReader(sse.Body)
	if l, err := sseLines.ReadString('\n'); err != nil || l != "data: 0\n" {
		t.Fatalf("first SSE line %q, %v", l, err)
	}

	ws, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(sidecartest.Wait))
	fmt.Fprintf(ws, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	wsReader := bufio.NewReader(ws)
	resp, err := http.ReadResponse(wsReader, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	wsID := resp.Header.Get("X-Request-Id")
	io.WriteString(ws, "hello")
	if b := make([]byte, 5); func() error { _, err := io.ReadFull(wsReader, b); return err }() != nil || string(b) != "hello" {
		t.Fatal("no echo through the websocket")
	}

	var ended atomic.Int32
	go func() { io.Copy(io.Discard, sseLines); ended.Add(1) }()
	go func() { io.Copy(io.Discard, wsReader); ended.Add(1) }()
	if err := c.Stop(); err != nil { // fails the test if it takes the grace period
		t.Fatal(err)
	}
	sidecartest.Eventually(t, "both streams to be ended", func() bool { return ended.Load() == 2 })

	lines := c.Events()
	last := len(lines) - 1
	if lines[last].Type != "system.trailcar.stopped" {
		t.Fatalf("last line %+v", lines[last].Event)
	}
	var sawWS, sawSSE bool
	for _, l := range lines[:last] {
		sawWS = sawWS || l.ID == wsID && l.Res.StatusCode == 101
		sawSSE = sawSSE || l.Req.Path == "/api/v3/ticks"
	}
	if !sawWS || !sawSSE {
		t.Errorf("before stopped: websocket event %v, SSE event %v; lines %+v", sawWS, sawSSE, lines)
	}
}

// TestNewFailsEarly: a port in use or an unwritable log dir fails New,
// before anything is served.
func TestNewFailsEarly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name   string
		mutate func(*sidecar.Config)
		want   string
	}{
		{"proxy port in use", func(c *sidecar.Config) { c.Listen = busy.Addr().String() }, "listen"},
		{"admin port in use", func(c *sidecar.Config) { c.Admin.Listen = busy.Addr().String() }, "admin.listen"},
		{"log dir is a file", func(c *sidecar.Config) { c.ActivityTracker.Dir = file }, "activity_tracker.dir"},
		{"invalid config", func(c *sidecar.Config) { c.ActivityTracker.WhenFull = "never" }, "activity_tracker.when_full"},
		{"missing token file", func(c *sidecar.Config) { c.Admin.TokenFile = file + ".missing" }, "admin.token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sidecartest.Config(t, "http://127.0.0.1:1")
			tt.mutate(&cfg)
			sc, err := sidecar.New(cfg, sidecar.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, %v; want an error naming %s", sc, err, tt.want)
			}
		})
	}
}
