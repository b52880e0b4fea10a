package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy"
)

// TestRequestsNetHTTPRefusesAreAudited: a request net/http refuses before
// any handler runs is one event, as nginx and HAProxy log theirs.
func TestRequestsNetHTTPRefusesAreAudited(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		harnessOptions{listener: true, configure: func(o *proxy.Options) { o.Streams = &proxy.Streams{} }})
	addr := h.front.Listener.Addr().String()
	huge := "X-Big: " + strings.Repeat("a", 70<<10) + "\r\n"
	tests := []struct {
		name, raw  string
		status     int
		method     string
		path       string
		notInEvent string
	}{
		{"bad request line", "GARBAGE\r\n\r\n", 400, "-", "-", ""},
		{"duplicate Content-Length", "POST /api/v3/widgets?token=s3cret HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "POST", "/api/v3/widgets", "s3cret"},
		{"bad Host", "GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "GET", "/a", ""},
		{"headers too large", "GET /big HTTP/1.1\r\nHost: x\r\n" + huge + "\r\n", 431, "GET", "/big", ""},
		{"obfuscated Transfer-Encoding", "POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501, "POST", "/te", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawRequest(t, addr, tc.raw)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("answered %d, want %d", resp.StatusCode, tc.status)
			}
			var e event.Event
			sidecartest.Eventually(t, "the refusal's event", func() bool {
				all := h.rec.Events()
				if len(all) > i {
					e = all[i]
					return true
				}
				return false
			})
			if e.Action != proxy.ActionRefused || e.Res.StatusCode != tc.status || e.Req.Method != tc.method ||
				e.Req.Path != tc.path || e.Outcome != event.OutcomeFailure || e.Address != "127.0.0.1" {
				t.Errorf("event %+v", e)
			}
			if tc.notInEvent != "" {
				if line, _ := event.AppendJSON(nil, &e); strings.Contains(string(line), tc.notInEvent) {
					t.Errorf("event holds %q: %s", tc.notInEvent, line)
				}
			}
		})
	}
	if n := len(h.rec.Events()); n != len(tests) {
		t.Errorf("%d events for %d refused requests", n, len(tests))
	}
}

// TestSlowBodyIsCut: a body trickled in below the minimum rate is cut
// with 408 once the grace is over, and its event says why.
func TestSlowBodyIsCut(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}), harnessOptions{configure: func(o *proxy.Options) { o.BodyGrace, o.BodyMinRate = 300*time.Millisecond, 1024 }})
	conn, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /api/v3/widgets HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"))
	start := time.Now()
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			close(done)
			return
		}
		done <- resp
	}()
	for {
		select {
		case resp := <-done:
			if resp == nil || resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("answer %v, want 408", resp)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("cut after %v", d)
			}
			e := h.events(1)[0]
			if e.Res.StatusCode != 408 || !strings.Contains(string(e.Details), "too slowly") {
				t.Fatalf("event %+v %s", e, e.Details)
			}
			return
		case <-time.After(200 * time.Millisecond):
			conn.Write([]byte("x")) // a byte every 200ms: far below 1 KiB/s
		}
	}
}

// TestOnlyWebsocketUpgradesPass: an h2c (or any other) upgrade never
// reaches the app, so nothing can be tunnelled past the audit; the
// request id survives a client's "Connection: X-Request-Id".
func TestOnlyWebsocketUpgradesPass(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
	}), harnessOptions{})
	addr := h.front.Listener.Addr().String()
	resp := rawRequest(t, addr, "POST /api/v3/widgets HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"+
		"Connection: Upgrade, HTTP2-Settings, X-Request-Id\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e := h.events(1)[0]
	mu.Lock()
	defer mu.Unlock()
	if seen.Get("Upgrade") != "" || seen.Get("Http2-Settings") != "" || strings.Contains(strings.ToLower(seen.Get("Connection")), "upgrade") {
		t.Errorf("the app saw %v", seen)
	}
	if seen.Get("X-Request-Id") != e.ID {
		t.Errorf("the app saw X-Request-Id %q, the event id is %s", seen.Get("X-Request-Id"), e.ID)
	}
}

// TestUpstreamFaultsAreRecordedTruthfully: a malformed Set-Cookie line is
// named, never quoted, in the event; a body the upstream cuts short is a
// failure of the upstream, not a client that went away.
func TestUpstreamFaultsAreRecordedTruthfully(t *testing.T) {
	tests := []struct {
		name, resp  string
		wantDetail  string
		notInDetail string
		outcome     string
	}{
		{"malformed Set-Cookie", "HTTP/1.1 200 OK\r\nSet-Cookie session=s3cr3t-value\r\nContent-Length: 0\r\n\r\n",
			`malformed MIME header: missing colon (header \"Set-Cookie\"; its line is not logged)`, "s3cr3t", event.OutcomeFailure},
		{"body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this much",
			"response body cut short", "", event.OutcomeFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := proxy.RawUpstream(t, tc.resp)
			h := newHarness(t, nil, harnessOptions{configure: func(o *proxy.Options) { o.Upstream.Host = addr }})
			resp, err := h.client().Post(h.front.URL+"/api/v3/widgets", "text/plain", nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			e := h.events(1)[0]
			details := string(e.Details)
			if e.Outcome != tc.outcome || tc.notInDetail != "" && strings.Contains(details, tc.notInDetail) ||
				!strings.Contains(details, tc.wantDetail) {
				t.Errorf("event outcome %s, details %s", e.Outcome, details)
			}
			if strings.Contains(details, "client went away") {
				t.Errorf("blamed on the client: %s", details)
			}
		})
	}
}

// TestIgnoredRoutesCannotBeDodged: with the default rules, paths an app
// may resolve out of an ignored route are tracked, as sent.
func TestIgnoredRoutesCannotBeDodged(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), harnessOptions{})
	paths := []string{
		"/api/v3/proxy/..;/components", "/api/v3/proxy/%2e%2e/components", "/api/v3/proxy/..%5ccomponents",
		"/api/v3/proxy/%252e%252e/components", "/api/v3/proxy%2f..%2fcomponents", "/api/v3/proxy/x", // the last one is ignored
	}
	for _, p := range paths {
		resp := rawRequest(t, h.front.Listener.Addr().String(), "POST "+p+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		resp.Body.Close()
	}
	events := h.events(int64(len(paths)))
	if len(events) != len(paths)-1 {
		t.Fatalf("%d events for %d dodging paths", len(events), len(paths)-1)
	}
}
