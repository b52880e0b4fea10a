package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rules"
)

// trackAll is a policy that tracks every request.
var trackAll = rules.Policy{Service: "app", Always: []string{"/**"}, ActionTemplate: "{service}.{resource}.{verb}"}

func upstreamErrorCount(h *harness) float64 {
	n := 0.0
	for _, reason := range []string{"refused", "reset", "timeout", "dns", "other"} {
		n += testutil.ToFloat64(h.metrics.UpstreamErrors.WithLabelValues(reason))
	}
	return n
}

// TestClientThatLeftIs499: a client that leaves before its answer's head,
// in the middle of its body (short or past the read-ahead) or while the
// app works, is recorded as 499, with no upstream error and nothing
// counted against the app.
func TestClientThatLeftIs499(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("done"))
	}), harnessOptions{policy: &trackAll, listener: true, configure: func(o *proxy.Options) { o.Streams = &proxy.Streams{} }})
	defer close(release)
	addr := h.front.Listener.Addr().String()
	cases := []struct{ name, raw string }{
		{"mid-body, within the read-ahead", "POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789"},
		{"mid-body, past the read-ahead", "POST /long HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("a", 200<<10)},
		{"mid-chunked-body", "PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1000\r\n"+strings.Repeat("b", 4096)+"\r\n", 40)},
		{"while the app works", "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write([]byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the request is with the proxy (and the app)
			conn.Close()
			events := h.events(int64(i + 1))
			e := events[i]
			if e.Res.StatusCode != 499 {
				t.Errorf("event status %d, want 499: %+v", e.Res.StatusCode, e)
			}
			d := detailsOf(t, e.Details)
			if _, ok := d["upstream_error"]; ok {
				t.Errorf("a client that left is an upstream error: %v", d)
			}
			if d["aborted"] == nil {
				t.Errorf("details %v, want aborted", d)
			}
		})
	}
	if n := upstreamErrorCount(h); n != 0 {
		t.Errorf("trailcar_upstream_errors_total %v, want 0: the clients left, the app did nothing wrong", n)
	}
}

// TestUpstreamTimeoutOnEveryPath: past upstream_timeout every way to the
// app answers 504, with upstream_error "timeout": the own transport with
// and without a body, and http.Transport (Expect); a body slower than the
// timeout is not cut.
func TestUpstreamTimeoutOnEveryPath(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/slowbody" {
			w.Header().Set("Content-Length", "4")
			w.Write([]byte("ab"))
			w.(http.Flusher).Flush()
			time.Sleep(2 * timeout)
			w.Write([]byte("cd"))
			return
		}
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}), harnessOptions{policy: &trackAll, configure: func(o *proxy.Options) { o.UpstreamTimeout = timeout }})
	c := h.client()
	requests := []func() *http.Request{
		func() *http.Request { r, _ := http.NewRequest("GET", h.front.URL+"/get", nil); return r },
		func() *http.Request {
			r, _ := http.NewRequest("POST", h.front.URL+"/post", strings.NewReader("x=1"))
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest("PUT", h.front.URL+"/expect", strings.NewReader("x=1"))
			r.Header.Set("Expect", "100-continue")
			return r
		},
	}
	for _, mk := range requests {
		r := mk()
		begin := time.Now()
		resp, err := c.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusGatewayTimeout || time.Since(begin) > 10*timeout {
			t.Errorf("%s %s: %d after %v, want 504 after %v", r.Method, r.URL.Path, resp.StatusCode, time.Since(begin), timeout)
		}
	}
	resp, err := c.Get(h.front.URL + "/slowbody")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "abcd" {
		t.Errorf("a body slower than upstream_timeout: %q, %v; want it whole", body, err)
	}
	events := h.events(int64(len(requests) + 1))
	for _, e := range events[:len(requests)] {
		if d := detailsOf(t, e.Details); e.Res.StatusCode != 504 || d["upstream_error"] != "timeout" {
			t.Errorf("%s %s: event %d %v, want 504 with upstream_error timeout", e.Req.Method, e.Req.Path, e.Res.StatusCode, d)
		}
	}
	if got := testutil.ToFloat64(h.metrics.UpstreamErrors.WithLabelValues("timeout")); got != float64(len(requests)) {
		t.Errorf("upstream_errors_total{reason=timeout} %v, want %d", got, len(requests))
	}
}

// TestInformationalFloodOnEveryPath: 1xx answers are passed on up to
// proxy.Max1xx on both ways to the app, then the request fails (502).
func TestInformationalFloodOnEveryPath(t *testing.T) {
	app := newRawApp(t, func(c *appConn, r *http.Request) bool {
		n := 100
		if r.URL.Path == "/flood" {
			n = proxy.Max1xx + 500
		}
		c.send(strings.Repeat(infoHint, n) + appOK + "Content-Length: 2\r\n\r\nok")
		return true
	})
	p := startTrailcar(t, app.url(), nil)
	c := &http.Client{Timeout: 20 * time.Second}
	for _, method := range []string{"GET", "POST", "PUT"} {
		for _, path := range []string{"/few", "/flood"} {
			var body io.Reader
			if method != "GET" {
				body = strings.NewReader("x")
			}
			infos := 0
			req, _ := http.NewRequestWithContext(withGot1xx(t.Context(), func(int, http.Header) { infos++ }), method, p.front.URL+path, body)
			if method == "PUT" {
				req.Header.Set("Expect", "100-continue") // http.Transport's path
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			resp.Body.Close()
			want, wantInfos := 200, 100
			if path == "/flood" {
				want, wantInfos = 502, proxy.Max1xx
			}
			if method == "PUT" {
				wantInfos++ // the proxy port's own 100 Continue to the client's Expect
			}
			if resp.StatusCode != want || infos != wantInfos {
				t.Errorf("%s %s: %d after %d informational answers, want %d after %d", method, path, resp.StatusCode, infos, want, wantInfos)
			}
		}
	}
}

// TestHTTP2PrefaceIsOneEvent: "PRI * HTTP/2.0" on the HTTP/1 port is one
// request and one event, whose details hold nothing of the app's answer.
func TestHTTP2PrefaceIsOneEvent(t *testing.T) {
	page := strings.Repeat("the app's page ", 200)
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(page))
	}), harnessOptions{policy: &trackAll, listener: true, configure: func(o *proxy.Options) { o.Streams = &proxy.Streams{} }})
	conn, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitFor))
	fmt.Fprint(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	h.waitServed(1)
	time.Sleep(100 * time.Millisecond) // room for a second event, if one were coming
	events := h.rec.Events()
	if len(events) != 1 {
		t.Fatalf("%d events for one request: %+v", len(events), events)
	}
	line, _ := event.AppendJSON(nil, &events[0])
	if strings.Contains(string(line), "the app's page") {
		t.Errorf("the event holds the app's answer: %s", line)
	}
	if events[0].Req.Method != "PRI" || events[0].Res.StatusCode != resp.StatusCode {
		t.Errorf("event %s %d, the client got %d", events[0].Req.Method, events[0].Res.StatusCode, resp.StatusCode)
	}
}

// TestEventKeepsUserAgentAndTraceID: req.user_agent (bounded) and the
// trace id of a valid traceparent, through the proxy; an invalid one is
// left out.
func TestEventKeepsUserAgentAndTraceID(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), harnessOptions{policy: &trackAll})
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tp := range []string{"00-" + id + "-00f067aa0ba902b7-01", "00-" + strings.ToUpper(id) + "-00f067aa0ba902b7-01"} {
		req, _ := http.NewRequest("GET", h.front.URL+"/x", nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 "+strings.Repeat("x", 1000))
		req.Header.Set("Traceparent", tp)
		resp, err := h.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	events := h.events(2)
	if e := events[0]; len(e.Req.UserAgent) != 512 || !strings.HasPrefix(e.Req.UserAgent, "Mozilla/5.0 ") || e.Req.TraceID != id {
		t.Errorf("event req %+v, want the agent cut to 512 bytes and trace id %s", e.Req, id)
	}
	if e := events[1]; e.Req.TraceID != "" {
		t.Errorf("an uppercase traceparent gave trace id %q, want none", e.Req.TraceID)
	}
}
