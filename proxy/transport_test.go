package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an app that counts the connections it accepted and
// the ones it saw closed.
type countingServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountingServer(t *testing.T, h http.Handler) *countingServer {
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, tr http.RoundTripper, ctx context.Context, method, u string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// TestTransportKeepsConnections: sequential answers of every shape (a
// length, chunked with trailers, none for HEAD, 204 and 304) come whole,
// over one kept-alive connection.
func TestTransportKeepsConnections(t *testing.T) {
	app := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
			w.Header().Set("X-Sum", "2")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Write([]byte("hello"))
		}
	}))
	tr := newTransport(0)
	defer tr.CloseIdleConnections()
	for i := range 30 {
		resp, body, err := get(t, tr, context.Background(), "GET", app.URL+"/")
		if err != nil || body != "hello" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
		resp, body, err = get(t, tr, context.Background(), "GET", app.URL+"/chunked")
		if err != nil || body != "ab" || resp.Trailer.Get("X-Sum") != "2" {
			t.Fatalf("chunked %d: %q, trailer %q, %v", i, body, resp.Trailer.Get("X-Sum"), err)
		}
		for _, p := range []string{"/204", "/304"} {
			if resp, _, err = get(t, tr, context.Background(), "GET", app.URL+p); err != nil || resp.Status[:3] != p[1:] {
				t.Fatalf("%s: %v %v", p, resp, err)
			}
		}
		if resp, body, err = get(t, tr, context.Background(), "HEAD", app.URL+"/"); err != nil || body != "" || resp.StatusCode != 200 {
			t.Fatalf("HEAD: %q %v", body, err)
		}
	}
	if n := app.opened.Load(); n != 1 {
		t.Errorf("the app accepted %d connections for 150 sequential requests, want 1", n)
	}
}

// TestTransportRetriesClosedConnection: an app that closes each connection
// after answering (without saying so) costs no failed request: a kept-alive
// connection that fails before anything comes back is asked again, once,
// on a new one. The app sees each request once.
func TestTransportRetriesClosedConnection(t *testing.T) {
	var seen atomic.Int64
	app := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("ok"))
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // gone, with no "Connection: close"
		}
	}))
	tr := newTransport(0)
	defer tr.CloseIdleConnections()
	for i := range 20 {
		if _, body, err := get(t, tr, context.Background(), "GET", app.URL); err != nil || body != "ok" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
	}
	if n := seen.Load(); n != 20 {
		t.Errorf("the app saw %d requests, want 20", n)
	}
}

// TestTransportOwnRequests: an upgrade, Expect or https goes through
// http.Transport; everything else, bodies included, over the own
// connections.
func TestTransportOwnRequests(t *testing.T) {
	u, _ := url.Parse("http://app/x")
	for _, tt := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"GET", &http.Request{Method: "GET", URL: u, Header: http.Header{}}, true},
		{"HEAD", &http.Request{Method: "HEAD", URL: u, Header: http.Header{}}, true},
		{"POST without body", &http.Request{Method: "POST", URL: u, Header: http.Header{}}, true},
		{"POST with body", &http.Request{Method: "POST", URL: u, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("x")), ContentLength: 1}, true},
		{"PUT chunked", &http.Request{Method: "PUT", URL: u, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("x")), ContentLength: -1}, true},
		{"websocket", &http.Request{Method: "GET", URL: u, Header: http.Header{"Upgrade": {"websocket"}}}, false},
		{"expect", &http.Request{Method: "GET", URL: u, Header: http.Header{"Expect": {"100-continue"}}}, false},
		{"https", &http.Request{Method: "GET", URL: &url.URL{Scheme: "https", Host: "app"}, Header: http.Header{}}, false},
	} {
		if got := own(tt.r); got != tt.want {
			t.Errorf("%s: own %v, want %v", tt.name, got, tt.want)
		}
	}
}

// rawUpstream answers every connection with resp, then closes it.
func rawUpstream(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if req, err := http.ReadRequest(br); err == nil {
					io.Copy(io.Discard, req.Body)
				}
				c.Write([]byte(resp))
			}()
		}
	}()
	return ln.Addr().String()
}

// RawUpstream is rawUpstream, for the external tests.
var RawUpstream = rawUpstream

// TestTransportHostileApp: an answer head without end, or endless
// informational answers, is refused without reading more than the bound.
func TestTransportHostileApp(t *testing.T) {
	huge := "http://" + rawUpstream(t, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 4<<20))
	tr := newTransport(0)
	defer tr.CloseIdleConnections()
	if _, _, err := get(t, tr, context.Background(), "GET", huge); err == nil || !strings.Contains(err.Error(), "head is over") {
		t.Errorf("a 4 MiB header: err %v, want the head refused", err)
	}
	hint := "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
	final := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	var hints atomic.Int64
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error { hints.Add(1); return nil },
	})
	hundred := "http://" + rawUpstream(t, strings.Repeat(hint, 100)+final)
	if resp, _, err := get(t, tr, ctx, "GET", hundred); err != nil || resp.StatusCode != 200 || hints.Load() != 100 {
		t.Errorf("100 informational answers: %v, %d passed on; want the 200 after all 100", err, hints.Load())
	}
	hints.Store(0)
	endless := "http://" + rawUpstream(t, strings.Repeat(hint, Max1xx+1)+final)
	if _, _, err := get(t, tr, ctx, "GET", endless); !errors.Is(err, errTooMany1xx) {
		t.Errorf("%d informational answers: err %v, want refused", Max1xx+1, err)
	}
	if n := hints.Load(); n != Max1xx {
		t.Errorf("%d informational answers passed on, want %d", n, Max1xx)
	}
	switched := "http://" + rawUpstream(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	if _, _, err := get(t, tr, context.Background(), "GET", switched); err == nil {
		t.Error("an unasked 101 was taken")
	}
}

// TestTransportCancel: a request cancelled while the app has not answered
// returns at once with the context's error, and one cancelled mid-body
// closes its connection rather than keep a half-read one.
func TestTransportCancel(t *testing.T) {
	release := make(chan struct{})
	app := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
			return
		}
		w.Write([]byte("part"))
		w.(http.Flusher).Flush()
		<-release
	}))
	t.Cleanup(func() { close(release) }) // before the app's Close, which waits for its handlers
	tr := newTransport(0)
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	begin := time.Now()
	_, _, err := get(t, tr, ctx, "GET", app.URL+"/slow")
	if !errors.Is(err, context.Canceled) || time.Since(begin) > 5*time.Second {
		t.Errorf("cancelled while waiting: %v after %v, want context.Canceled at once", err, time.Since(begin))
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", app.URL+"/stream", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "part" {
		t.Fatalf("first part: %q %v", buf, err)
	}
	cancel()
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("a read after the cancel went on")
	}
	resp.Body.Close()
	tr.mu.Lock()
	idle := len(tr.idle)
	tr.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d half-read connections kept", idle)
	}
}

// TestTransportReapsIdle: connections idle past idleTimeout are closed,
// and the app sees them go.
func TestTransportReapsIdle(t *testing.T) {
	app := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	tr := newTransport(0)
	tr.idleTimeout = 100 * time.Millisecond
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, body, err := get(t, tr, context.Background(), "GET", app.URL); err != nil || body != "x" {
					t.Errorf("%q %v", body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	opened := app.opened.Load()
	if opened < 1 || opened > 8 {
		t.Errorf("8 clients opened %d connections, want 1 to 8", opened)
	}
	deadline := time.Now().Add(5 * time.Second)
	for app.closed.Load() < opened && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := app.closed.Load(); c != opened {
		t.Errorf("%d of %d idle connections closed after the idle timeout", c, opened)
	}
}
