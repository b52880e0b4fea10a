package proxy_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rules"
)

// rawApp is an app written on raw sockets, so that it can break HTTP's
// framing the way buggy or hostile apps do. Each connection reads requests
// with http.ReadRequest and hands each to answer, which writes whatever it
// likes on the connection and says whether to read the next request.
type rawApp struct {
	ln     net.Listener
	answer func(c *appConn, r *http.Request) bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// appConn is one connection of a rawApp.
type appConn struct {
	net.Conn
	br *bufio.Reader
	n  int // requests read on this connection so far, this one included
}

func (c *appConn) send(s string) { c.Write([]byte(s)) }

// reset closes the connection with an RST instead of a FIN.
func (c *appConn) reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func newRawApp(t testing.TB, answer func(c *appConn, r *http.Request) bool) *rawApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &rawApp{ln: ln, answer: answer, conns: map[net.Conn]struct{}{}}
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(a.close)
	return a
}

func (a *rawApp) url() *url.URL { return &url.URL{Scheme: "http", Host: a.ln.Addr().String()} }

func (a *rawApp) accept() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			c.Close()
			return
		}
		a.conns[c] = struct{}{}
		a.wg.Add(1)
		a.mu.Unlock()
		go a.serve(&appConn{Conn: c, br: bufio.NewReader(c)})
	}
}

func (a *rawApp) serve(c *appConn) {
	defer a.wg.Done()
	defer func() {
		c.Close()
		a.mu.Lock()
		delete(a.conns, c.Conn)
		a.mu.Unlock()
	}()
	for {
		r, err := http.ReadRequest(c.br)
		if err != nil {
			return
		}
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
		}
		c.n++
		if !a.answer(c, r) {
			return
		}
	}
}

func (a *rawApp) close() {
	a.ln.Close()
	a.mu.Lock()
	a.closed = true
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// proxyUnderTest is a proxy in front of an app, behind a real front
// server: trailcar as the sidecar runs it (its listener, its transport,
// every request tracked) or a stock httputil.ReverseProxy with an
// http.Transport.
type proxyUnderTest struct {
	name  string
	front *httptest.Server
	rec   *sidecartest.Sink // trailcar's events; nil for stock
	reg   *prometheus.Registry
}

// conformanceTimeout is upstream_timeout in these tests (and the stock
// transport's ResponseHeaderTimeout).
const conformanceTimeout = 2 * time.Second

func startTrailcar(t testing.TB, app *url.URL, configure func(*proxy.Options)) *proxyUnderTest {
	t.Helper()
	rec := sidecartest.NewSink(t)
	reg := prometheus.NewRegistry()
	trusted, err := identity.ParseTrusted([]string{"loopback"})
	if err != nil {
		t.Fatal(err)
	}
	streams := &proxy.Streams{}
	opts := proxy.Options{
		Upstream:        app,
		UpstreamTimeout: conformanceTimeout,
		Rules:           compileRules(t, rules.Policy{Service: "app", Always: []string{"/**"}, ActionTemplate: "{service}.{resource}.{verb}"}),
		Sink:            rec,
		Metrics:         metrics.New(reg),
		Trusted:         trusted,
		Streams:         streams,
		Logger:          slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(&opts)
	}
	p, err := proxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewUnstartedServer(p)
	front.Config.MaxHeaderBytes = 64 << 10
	front.Config.ReadHeaderTimeout = 10 * time.Second
	front.Config.ConnContext = streams.ConnContext
	front.Config.ConnState = proxy.ConnState
	front.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	ln := proxy.NewListener(front.Listener, 0)
	ln.Refused = p.Refused
	front.Listener = ln
	front.Start()
	t.Cleanup(front.Close)
	return &proxyUnderTest{name: "trailcar", front: front, rec: rec, reg: reg}
}

func startStock(t testing.TB, app *url.URL) *proxyUnderTest {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = conformanceTimeout
	t.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(app); pr.Out.Host = pr.In.Host },
		Transport: tr,
		ErrorLog:  slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	front := httptest.NewUnstartedServer(rp)
	front.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	front.Start()
	t.Cleanup(front.Close)
	return &proxyUnderTest{name: "stock", front: front}
}
