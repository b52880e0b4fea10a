package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rules"
)

// waitFor is how long a test waits for something that should happen at
// once; generous, because the machine is shared with other test runs.
const waitFor = 15 * time.Second

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func compileRules(t testing.TB, p rules.Policy) *rules.Rules {
	t.Helper()
	r, err := rules.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// harness is a proxy behind a real front server, in front of a real
// upstream (or a closed port when the upstream handler is nil).
type harness struct {
	t        *testing.T
	front    *httptest.Server
	upstream *httptest.Server // nil: the upstream is a closed port
	proxy    *proxy.Proxy
	rec      *sidecartest.Sink
	reg      *prometheus.Registry
	metrics  *metrics.Metrics
	// served counts front requests whose handler returned (panicking
	// included): once it reaches the number of requests sent, every event
	// that will ever be emitted has been.
	served atomic.Int64
	// panics is the last panic the proxy's handler passed on.
	panics atomic.Value
}

type harnessOptions struct {
	policy    *rules.Policy // nil: rules.DefaultPolicy
	configure func(*proxy.Options)
	http2     bool // serve the front over TLS with HTTP/2
	listener  bool // the front listens through proxy.Listener, as the sidecar's proxy port
}

func newHarness(t *testing.T, upstream http.Handler, ho harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, rec: sidecartest.NewSink(t), reg: prometheus.NewRegistry()}
	h.metrics = metrics.New(h.reg)
	var target *url.URL
	if upstream != nil {
		h.upstream = httptest.NewServer(upstream)
		t.Cleanup(h.upstream.Close)
		target, _ = url.Parse(h.upstream.URL)
	} else {
		target = &url.URL{Scheme: "http", Host: closedAddr(t)}
	}
	policy := rules.DefaultPolicy()
	if ho.policy != nil {
		policy = *ho.policy
	}
	trusted, err := identity.ParseTrusted([]string{"loopback"})
	if err != nil {
		t.Fatal(err)
	}
	opts := proxy.Options{
		Upstream: target,
		Rules:    compileRules(t, policy),
		Sink:     h.rec,
		Metrics:  h.metrics,
		Trusted:  trusted,
		Logger:   slog.New(slog.DiscardHandler),
	}
	if ho.configure != nil {
		ho.configure(&opts)
	}
	h.proxy, err = proxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.front = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer h.served.Add(1)
		defer func() {
			if v := recover(); v != nil {
				h.panics.Store(v) // seen, and passed on to net/http as it was
				panic(v)
			}
		}()
		h.proxy.ServeHTTP(w, r)
	}))
	h.front.Config.MaxHeaderBytes = 64 << 10 // as the sidecar's proxy port
	h.front.Config.ReadHeaderTimeout = 10 * time.Second
	if ho.listener && opts.Streams == nil {
		t.Fatal("harnessOptions.listener needs Options.Streams")
	}
	if opts.Streams != nil {
		h.front.Config.ConnContext = opts.Streams.ConnContext
	}
	if ho.listener {
		ln := proxy.NewListener(h.front.Listener, 0)
		ln.Refused = h.proxy.Refused
		h.front.Listener = ln
		h.front.Config.ConnState = proxy.ConnState
	}
	if ho.http2 {
		h.front.EnableHTTP2 = true
		h.front.StartTLS()
	} else {
		h.front.Start()
	}
	t.Cleanup(h.front.Close)
	return h
}

// client returns a client of the front server that does not share idle
// connections with other tests.
func (h *harness) client() *http.Client {
	c := h.front.Client()
	c.Timeout = waitFor
	return c
}

// waitServed waits until n front requests have been fully handled.
func (h *harness) waitServed(n int64) {
	h.t.Helper()
	sidecartest.Eventually(h.t, "the proxy to finish handling the requests", func() bool { return h.served.Load() >= n })
}

// events waits until n requests were handled and returns the events.
func (h *harness) events(n int64) []event.Event {
	h.t.Helper()
	h.waitServed(n)
	return h.rec.Events()
}

// closedAddr is a local address where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// rawRequest sends raw bytes on a new connection and reads one response.
func rawRequest(t testing.TB, addr, raw string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(waitFor))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

// auditHeadersIn lists the X-Audit-* headers of h, in any case.
func auditHeadersIn(h http.Header) []string {
	var found []string
	for k := range h {
		if len(k) >= 8 && strings.EqualFold(k[:8], "x-audit-") {
			found = append(found, k)
		}
	}
	return found
}

func detailsOf(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("details %s: %v", raw, err)
	}
	return m
}

// identityNone trusts no proxy.
var identityNone identity.Trusted

// withGot1xx reports the informational answers a client request gets.
func withGot1xx(ctx context.Context, f func(code int, h http.Header)) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error { f(code, http.Header(h)); return nil },
	})
}
