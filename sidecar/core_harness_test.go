package sidecar_test

// Helpers of the core (proxy → rules → audit file) tests. Other test files
// of this package belong to other areas; these names start with "core" so
// they cannot collide.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rotate"
	"github.com/trailcar/trailcar/sidecar"
)

// coreWait is how long to wait for what should happen at once (the
// machine is shared with other test runs, so it is generous).
const coreWait = 15 * time.Second

// coreConfig is a config on free local ports, with a log dir of its own
// that keeps every file.
func coreConfig(t testing.TB, upstream string) sidecar.Config {
	cfg := sidecar.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Upstream = upstream
	cfg.Host = "test-host"
	cfg.ActivityTracker.Dir = filepath.Join(t.TempDir(), "logs")
	cfg.ActivityTracker.MaxFiles = 0
	return cfg
}

// coreSidecar is a running sidecar.
type coreSidecar struct {
	t    testing.TB
	sc   *sidecar.Sidecar
	cfg  sidecar.Config
	reg  *prometheus.Registry
	logs *coreBuffer // its slog output

	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
}

func startCore(t testing.TB, cfg sidecar.Config) *coreSidecar {
	t.Helper()
	c := &coreSidecar{t: t, cfg: cfg, reg: prometheus.NewRegistry(), logs: &coreBuffer{}, done: make(chan struct{})}
	sc, err := sidecar.New(cfg, sidecar.Options{
		Logger:        slog.New(slog.NewJSONHandler(c.logs, nil)),
		Registry:      c.reg,
		Version:       "test",
		ProbeInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.sc = sc
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		c.runErr = sc.Run(ctx)
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

// stop cancels Run and waits for it (well under ShutdownGrace).
func (c *coreSidecar) stop() error {
	c.stopOnce.Do(func() {
		c.cancel()
		select {
		case <-c.done:
		case <-time.After(sidecar.ShutdownGrace - 5*time.Second):
			// Not waiting longer: a stuck Run would hang the whole run.
			c.runErr = fmt.Errorf("Run did not return within %v of the cancel", sidecar.ShutdownGrace-5*time.Second)
			c.t.Error(c.runErr)
		}
	})
	return c.runErr
}

func (c *coreSidecar) dir() string { return c.cfg.ActivityTracker.Dir }

func (c *coreSidecar) proxyURL() string { return c.sc.ProxyURL() }

// coreLine is one line of the audit log.
type coreLine struct {
	event.Event
	file    string
	details map[string]any
}

// lines reads every audit file, oldest first, checking that every line is
// one valid UTF-8 JSON object.
func (c *coreSidecar) lines() []coreLine {
	c.t.Helper()
	return coreReadLines(c.t, c.dir(), c.cfg.ActivityTracker.Filename)
}

func coreReadLines(t testing.TB, dir, filename string) []coreLine {
	t.Helper()
	files, err := rotate.List(dir, filename)
	if err != nil {
		t.Fatal(err)
	}
	var out []coreLine
	for i := len(files) - 1; i >= 0; i-- {
		data, err := os.ReadFile(files[i].Path)
		if err != nil {
			if os.IsNotExist(err) {
				continue // moved away meanwhile
			}
			t.Fatal(err)
		}
		out = append(out, coreParse(t, files[i].Name, data)...)
	}
	return out
}

func coreParse(t testing.TB, name string, data []byte) []coreLine {
	t.Helper()
	var out []coreLine
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s: last line not terminated (torn?)", name)
	}
	for n, raw := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var l coreLine
		if !utf8.Valid(raw) || !json.Valid(raw) {
			t.Errorf("%s:%d: not a UTF-8 JSON line: %.300q", name, n+1, raw)
			continue
		}
		if err := event.Decode(raw, &l.Event); err != nil {
			t.Errorf("%s:%d: %v", name, n+1, err)
			continue
		}
		if len(l.Details) > 0 {
			if err := json.Unmarshal(l.Details, &l.details); err != nil {
				t.Errorf("%s:%d: details %s: %v", name, n+1, l.Details, err)
			}
		}
		l.file = name
		out = append(out, l)
	}
	return out
}

// waitLine polls the audit files until a line satisfies ok.
func (c *coreSidecar) waitLine(what string, ok func(coreLine) bool) coreLine {
	c.t.Helper()
	var found coreLine
	coreEventually(c.t, what, func() bool {
		for _, l := range c.lines() {
			if ok(l) {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

func coreOfType(lines []coreLine, typ string) []coreLine {
	var out []coreLine
	for _, l := range lines {
		if l.Type == typ {
			out = append(out, l)
		}
	}
	return out
}

// coreEventually polls cond until it holds, failing after coreWait.
func coreEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(coreWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// coreClient does not keep idle connections between tests.
func coreClient() *http.Client {
	return &http.Client{Timeout: coreWait, Transport: &http.Transport{DisableKeepAlives: true}}
}

// coreDo sends one request and returns the status, the response headers
// and the body.
func coreDo(t testing.TB, method, url, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := coreClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// coreFreeAddr is a local address free a moment ago.
func coreFreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// coreUpstream serves h on addr until the returned stop is called.
func coreUpstream(t testing.TB, addr string, h http.Handler) (stop func()) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just released; it may linger a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	var once sync.Once
	stop = func() { once.Do(func() { srv.Close() }) }
	t.Cleanup(stop)
	return stop
}

// coreBuffer is a goroutine-safe log sink.
type coreBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *coreBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *coreBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
