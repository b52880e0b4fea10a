// Package sidecartest starts real sidecars for tests: both ports on free
// loopback addresses, a log dir of its own, its own metrics registry, and
// helpers to talk to it and read back what it wrote. Every test that needs
// a running sidecar (sidecar's, the CLI's, the browser test's) starts it
// here.
package sidecartest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
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
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rotate"
	"github.com/trailcar/trailcar/sidecar"
)

// Wait is how long to wait for what should happen at once (the machine is
// shared with other test runs, so it is generous).
const Wait = 15 * time.Second

// Config is the defaults with both ports on 127.0.0.1:0, a log dir of its
// own that keeps every file, a fixed host, in front of upstream.
func Config(t testing.TB, upstream string) sidecar.Config {
	cfg := sidecar.DefaultConfig()
	cfg.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Upstream = upstream
	cfg.Host = "test-host"
	cfg.ActivityTracker.Dir = filepath.Join(t.TempDir(), "logs")
	cfg.ActivityTracker.MaxFiles = 0
	return cfg
}

// WithToken sets the admin token (written to a file of the test's) and
// returns cfg.
func WithToken(t testing.TB, cfg sidecar.Config, token string) sidecar.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin.TokenFile = path
	return cfg
}

// Upstream is a real upstream app serving h, closed at the end of the test.
func Upstream(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Sidecar is a running sidecar.
type Sidecar struct {
	*sidecar.Sidecar
	T   testing.TB
	Cfg sidecar.Config
	Reg *prometheus.Registry
	Log *Buffer // its slog output, JSON lines

	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
}

// Start builds and runs a sidecar with cfg; it is stopped (and every event
// written) at the end of the test. opts may change the sidecar.Options
// (Registry, Logger, Version and a 20ms ProbeInterval are set already).
func Start(t testing.TB, cfg sidecar.Config, opts ...func(*sidecar.Options)) *Sidecar {
	t.Helper()
	s := &Sidecar{T: t, Cfg: cfg, Reg: prometheus.NewRegistry(), Log: &Buffer{}, done: make(chan struct{})}
	o := sidecar.Options{
		Logger:        slog.New(slog.NewJSONHandler(s.Log, nil)),
		Registry:      s.Reg,
		Version:       "test",
		ProbeInterval: 20 * time.Millisecond,
	}
	for _, f := range opts {
		f(&o)
	}
	sc, err := sidecar.New(cfg, o)
	if err != nil {
		t.Fatalf("sidecar.New: %v", err)
	}
	s.Sidecar = sc
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.runErr = sc.Run(ctx)
	}()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// Stop cancels Run and waits for it (well under ShutdownGrace); it returns
// Run's error. Safe to call twice.
func (s *Sidecar) Stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		limit := sidecar.ShutdownGrace - 5*time.Second
		select {
		case <-s.done:
		case <-time.After(limit):
			// Not waiting longer: a stuck Run would hang the whole run.
			s.runErr = fmt.Errorf("Run did not return within %v of the cancel", limit)
		}
	})
	return s.runErr
}

// Dir is the log dir.
func (s *Sidecar) Dir() string { return s.Cfg.ActivityTracker.Dir }

// Lines reads every audit file, oldest first, checking that every line is
// one valid UTF-8 JSON event.
func (s *Sidecar) Lines() []Line {
	s.T.Helper()
	return ReadLines(s.T, s.Dir(), s.Cfg.ActivityTracker.Filename)
}

// WaitLine polls the audit files until a line satisfies ok.
func (s *Sidecar) WaitLine(what string, ok func(Line) bool) Line {
	s.T.Helper()
	var found Line
	Eventually(s.T, what, func() bool {
		for _, l := range s.Lines() {
			if ok(l) {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// Line is one line of the audit files.
type Line struct {
	event.Event
	File       string         // the file's name
	Raw        string         // the line as written
	DetailsMap map[string]any // Details decoded
}

// ReadLines reads every audit file in dir (filename "" is audit.log),
// oldest first, through gzip, checking each line; files rotated away while
// reading are skipped.
func ReadLines(t testing.TB, dir, filename string) []Line {
	t.Helper()
	if filename == "" {
		filename = "audit.log"
	}
	files, err := rotate.List(dir, filename)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []Line
	for i := len(files) - 1; i >= 0; i-- {
		data, err := os.ReadFile(files[i].Path)
		if err != nil {
			if os.IsNotExist(err) {
				continue // moved away meanwhile
			}
			t.Fatal(err)
		}
		if files[i].Compressed {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", files[i].Name, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", files[i].Name, err)
			}
		}
		out = append(out, ParseLines(t, files[i].Name, data)...)
	}
	return out
}

// ParseLines checks and decodes the lines of one file's content.
func ParseLines(t testing.TB, name string, data []byte) []Line {
	t.Helper()
	var out []Line
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s: last line not terminated (torn?)", name)
	}
	for n, raw := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		l := Line{File: name, Raw: string(raw)}
		if !utf8.Valid(raw) || !json.Valid(raw) {
			t.Errorf("%s:%d: not a UTF-8 JSON line: %.300q", name, n+1, raw)
			continue
		}
		if err := event.Decode(raw, &l.Event); err != nil {
			t.Errorf("%s:%d: %v", name, n+1, err)
			continue
		}
		if len(l.Details) > 0 {
			if err := json.Unmarshal(l.Details, &l.DetailsMap); err != nil {
				t.Errorf("%s:%d: details %s: %v", name, n+1, l.Details, err)
			}
		}
		out = append(out, l)
	}
	return out
}

// OfType keeps the lines of one type.
func OfType(lines []Line, typ string) []Line {
	var out []Line
	for _, l := range lines {
		if l.Type == typ {
			out = append(out, l)
		}
	}
	return out
}

// Eventually polls cond until it holds, failing after Wait.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Client does not keep idle connections between tests.
func Client() *http.Client {
	return &http.Client{Timeout: Wait, Transport: &http.Transport{DisableKeepAlives: true}}
}

// Do sends one request (headers as name, value pairs; a JSON Content-Type
// when body is set and none is given) and returns the status, the
// response headers and the body.
func Do(t testing.TB, method, url, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	resp := Response(t, method, url, body, header...)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// Response sends one request like Do and returns the response, its body
// unread: the caller closes it.
func Response(t testing.TB, method, url, body string, header ...string) *http.Response {
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
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// FreeAddr is a loopback address free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// DeadAddr is a loopback address nothing listens on.
func DeadAddr(t testing.TB) string { return FreeAddr(t) }

// UpstreamAt serves h on addr until the returned stop is called (or the
// test ends): an upstream that can go down and come back on one address.
func UpstreamAt(t testing.TB, addr string, h http.Handler) (stop func()) {
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

// Buffer is a goroutine-safe log sink.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Files are the audit files in dir (the live one and rotated ones; not the
// dot files the sidecar may keep there), by name; none when dir is missing.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
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

// Events are the lines that are not checkpoints (integrity's
// system.audit.checkpoint lines), for tests about the events themselves.
func (s *Sidecar) Events() []Line {
	s.T.Helper()
	return WithoutCheckpoints(s.Lines())
}

// WithoutCheckpoints leaves out the checkpoint lines.
func WithoutCheckpoints(lines []Line) []Line {
	out := lines[:0:0]
	for _, l := range lines {
		if l.Type != "system.audit.checkpoint" {
			out = append(out, l)
		}
	}
	return out
}
