package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// transport is the proxy's way to the app when Options.Transport is nil.
//
// Every request to an http:// app but an upgrade or one that says Expect is
// written, and its answer read, on the goroutine that forwards it, over
// kept-alive connections of the transport's own, with net/http's
// Request.Write and ReadResponse. A request body is written by a goroutine
// of its own while the answer is read (an app may answer before it has read
// a large upload). Upgrades, Expect and https go through an http.Transport
// that keeps no connection alive (see fallbackRoundTrip).
//
// Why not http.Transport for all: it hands each request to a writing
// goroutine and each answer back from a reading goroutine of the
// connection, and under the proxy bench those hand-offs were about a third
// of a plain ReverseProxy's CPU (docs/performance.md "Proxy"). And its
// reading goroutine puts a connection back in the pool before it looks at
// what the app sent past the answer: under load another request takes the
// connection first and gets those bytes as its answer (TestCrossClientAnswers
// found 2 to 4 such answers in 100,000 through a stock http.Transport).
//
// A kept-alive connection is only ever reused when nothing can be on it but
// the next answer: the last answer was read to the end of its framing with
// no byte left in the buffer, its request was written whole, neither side
// asked to close, and, when it is taken from the pool, a non-blocking peek
// at the socket finds it empty and open. Bytes the
// app wrote past an answer (a body on a HEAD, 204 or 304 answer, a body
// longer than its Content-Length, a second answer, an unsolicited 408
// before an idle close) would otherwise be read as the next request's
// answer, and that request may be another client's.
type transport struct {
	fallback      *http.Transport
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle       int           // kept-alive connections per upstream address
	idleTimeout   time.Duration // a connection idle longer is closed
	maxHeader     int64         // bytes of one answer's status line and headers
	headerTimeout time.Duration // the longest wait for the answer head after the request is written; 0: none
	watch         *headWatch    // enforces headerTimeout; nil when it is 0

	mu     sync.Mutex
	idle   map[string][]*upConn // by address, the most recently used last
	reaper *time.Timer          // armed while idle holds a connection
}

// Max1xx bounds the informational answers (103 Early Hints and the like)
// passed on before the real one, on every path to the app. Each is passed
// to the client as it comes, as ReverseProxy does (go1.26's forwards any
// number); the bound and upstream_timeout, which covers them all, keep an
// app that sends them without end from holding a connection forever.
const Max1xx = 1000

// newTransport is the proxy's own transport; headerTimeout bounds the wait
// for an answer head (upstream_timeout), 0 for none.
func newTransport(headerTimeout time.Duration) *transport {
	fallback := DefaultTransport()
	fallback.ResponseHeaderTimeout = headerTimeout
	fallback.DisableKeepAlives = true         // see fallbackRoundTrip
	fallback.MaxResponseHeaderBytes = 1 << 20 // as the synchronous path: memory per answer is bounded alike
	return &transport{
		fallback:      fallback,
		dial:          fallback.DialContext, // the same dialer (timeout, keep-alive) as http.DefaultTransport's
		maxIdle:       256,
		idleTimeout:   90 * time.Second,
		maxHeader:     1 << 20,
		headerTimeout: headerTimeout,
		watch:         newHeadWatch(headerTimeout),
		idle:          map[string][]*upConn{},
	}
}

// own reports whether r goes over the transport's own connections: an
// upgrade turns its connection into a tunnel, and Expect: 100-continue
// means waiting for the app's word before the body, which http.Transport
// does.
func own(r *http.Request) bool {
	return r.URL.Scheme == "http" && r.Header["Upgrade"] == nil && r.Header["Expect"] == nil
}

// replayable reports whether r may be sent again on another connection
// when the first failed before anything came back (as http.Transport's
// rule: no body, a method that changes nothing).
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return r.Body == nil || r.Body == http.NoBody
	}
	return false
}

// upConn is a connection to the app.
type upConn struct {
	conn    net.Conn
	in      boundedReader
	br      *bufio.Reader
	bw      *bufio.Writer
	addr    string
	idleAt  time.Time
	peek    peeker    // is the idle socket still empty and open
	waiting waitState // the head wait, for the headWatch

	// A request body is written by writeRequest while the answer is read.
	sending  bool       // the current request has a body
	wrote    chan error // writeBody's result, one per request with a body
	headIn   atomic.Bool
	bodyBad  atomic.Bool // writeErr is set: the body failed on the client's side
	writeErr error
}

// boundedReader counts what comes from the app and, while max is set,
// refuses to read past it (an answer's head may not grow without bound).
type boundedReader struct {
	r      io.Reader
	n, max int64
}

var errHeadTooLarge = errors.New("answer head too large")

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.max > 0 {
		if b.n >= b.max {
			return 0, errHeadTooLarge
		}
		p = p[:min(int64(len(p)), b.max-b.n)]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !own(r) {
		return t.fallbackRoundTrip(r)
	}
	addr := r.URL.Host
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		addr = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	ctx := r.Context()
	for retried := false; ; retried = true {
		c, reused, err := t.get(ctx, addr)
		if err != nil {
			return nil, err
		}
		start := c.in.n
		resp, err := t.roundTrip(ctx, c, r)
		if err == nil {
			return resp, nil
		}
		t.closeConn(c)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %v", ctx.Err(), err)
		}
		// A kept-alive connection the app closed just after the peek that
		// found it open fails before anything comes back; these methods
		// are safe to ask again, once. (Not after a timeout: the app got
		// the request and is slow, not gone.)
		if reused && !retried && c.in.n == start && replayable(r) && !errors.Is(err, errHeaderTimeout) {
			continue
		}
		return nil, err
	}
}

// errHeaderTimeout: the app's answer head did not come within
// upstream_timeout. It is a net.Error whose Timeout is true, like
// http.Transport's "timeout awaiting response headers".
var errHeaderTimeout error = headerTimeoutError{}

type headerTimeoutError struct{}

func (headerTimeoutError) Error() string   { return "timeout awaiting the app's answer head" }
func (headerTimeoutError) Timeout() bool   { return true }
func (headerTimeoutError) Temporary() bool { return true }

// errTooMany1xx: the app sent more than Max1xx informational answers.
var errTooMany1xx = fmt.Errorf("the app sent more than %d informational answers", Max1xx)

// fallbackRoundTrip sends r through http.Transport, with the bound on
// informational answers that ReverseProxy leaves to its transport's user:
// past Max1xx the request is cancelled. (ResponseHeaderTimeout, set to
// upstream_timeout, already bounds their time.) That transport keeps no
// connection alive: its reading goroutine offers a connection to the next
// request before it looks at what the app sent past an answer, so a
// kept-alive one could give the next request, anyone's, bytes meant for no
// one. Upgrades use their connection up anyway; Expect and https requests
// pay a connection each (an app in the same pod is reached over http).
func (t *transport) fallbackRoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	n := 0
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Called before ReverseProxy's own hook (which passes it on) and
		// on the same goroutine, one answer at a time.
		Got1xxResponse: func(int, textproto.MIMEHeader) error {
			if n++; n > Max1xx {
				cancel(errTooMany1xx)
			}
			return nil
		},
	})
	resp, err := t.fallback.RoundTrip(r.WithContext(ctx))
	if context.Cause(ctx) == errTooMany1xx {
		// Also when the final answer was read before the cancel took:
		// past the bound the answer is refused on every path.
		if err == nil {
			resp.Body.Close()
		}
		return nil, errTooMany1xx
	}
	// cancel is not called otherwise: the body is still to be read under
	// ctx, which ends with the request's own context.
	return resp, err
}

// roundTrip writes r on c and reads its answer, passing informational
// answers to the request's trace (ReverseProxy forwards them).
func (t *transport) roundTrip(ctx context.Context, c *upConn, r *http.Request) (*http.Response, error) {
	var stop func() bool
	if ctx.Done() != nil {
		// Cancelling the request (the client left) ends a read or write
		// in progress: the connection is then closed, never reused.
		stop = context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		if stop != nil {
			stop()
		}
		return nil, err
	}
	c.headIn.Store(false)
	c.bodyBad.Store(false)
	c.sending = r.Body != nil && r.Body != http.NoBody
	if c.sending {
		if c.wrote == nil {
			c.wrote = make(chan error, 1)
		}
		go c.writeRequest(r)
	} else {
		if err := r.Write(c.bw); err != nil {
			return fail(err)
		}
		if err := c.bw.Flush(); err != nil {
			return fail(err)
		}
	}
	// The app's answer is seldom there the instant the request is written;
	// reading now would find the socket empty, park this goroutine in the
	// netpoller and wake it through a futex once the answer lands. Yielding
	// first lets this P run the other requests that are ready (on a busy
	// sidecar there are always some) and come back to a socket that usually
	// has the answer. Under the proxy bench this yield alone took trailcar's
	// p99 from 1.5x a pooled ReverseProxy's to 0.9x, at equal or better
	// req/s (docs/performance.md "Proxy").
	runtime.Gosched()
	t.watch.wait(c)
	trace := httptrace.ContextClientTrace(ctx)
	for n := 0; ; n++ {
		c.in.max = c.in.n + t.maxHeader
		resp, err := http.ReadResponse(c.br, r)
		c.in.max = 0
		final := err == nil && resp.StatusCode >= 200
		cut := (err != nil || final) && !t.watch.done(c)
		switch {
		case cut:
			return fail(errHeaderTimeout)
		case errors.Is(err, errHeadTooLarge):
			return fail(fmt.Errorf("the app's answer head is over %d bytes", t.maxHeader))
		case err != nil && c.sending && c.bodyFailed():
			return fail(c.writeErr)
		case err != nil:
			return fail(err)
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return fail(errors.New("the app switched protocols without being asked to"))
		case resp.StatusCode < 200:
			if n == Max1xx {
				return fail(errTooMany1xx)
			}
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
					return fail(err)
				}
			}
			continue
		}
		c.headIn.Store(true)
		if c.sending {
			// The head is in: a body that failed on the client's side
			// meanwhile must not cut the answer's (writeRequest moves the
			// deadline only while no head is in; this undoes a move that
			// raced with the head).
			c.conn.SetReadDeadline(time.Time{})
			if ctx.Err() != nil {
				c.conn.SetDeadline(time.Unix(1, 0)) // the cancel came between: keep it
			}
		}
		b := &upBody{body: resp.Body, t: t, c: c, stop: stop, keep: !resp.Close && !r.Close}
		if resp.Body == http.NoBody {
			b.finish(true) // HEAD, 204, 304: the connection is free now
			return resp, nil
		}
		resp.Body = b
		return resp, nil
	}
}

// upBody is an answer's body: read to its end on a connection that may be
// kept alive, the connection goes back to the pool; closed before, the
// connection is closed.
type upBody struct {
	body io.ReadCloser // ReadResponse's
	t    *transport
	c    *upConn
	stop func() bool
	keep bool
	done atomic.Bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, errors.New("read on a finished answer body")
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close closes the connection unless the body was read to its end: the
// rest of an answer nobody reads is not worth waiting for. (ReadResponse's
// own Close would read it all.)
func (b *upBody) Close() error {
	b.finish(false)
	return nil
}

func (b *upBody) finish(whole bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	intact := b.stop == nil || b.stop() // false: the request was cancelled, the deadline is spoilt
	// A byte already buffered past the answer's end is one the app should
	// not have sent (or a second answer): the connection's framing is
	// broken and it is closed, never offered to the next request.
	if whole && b.keep && intact && b.c.br.Buffered() == 0 && b.c.requestWritten() {
		b.t.put(b.c)
		return
	}
	b.t.closeConn(b.c)
}

// writeRequest writes r, head and body, while the answer is read. A body
// that fails on the client's side (the client left, or sent it too slowly)
// ends the wait for an answer that cannot come: the app has half a
// request. A failed write to the app does not: the app may have answered
// before it stopped reading (413 to a large upload), and that answer is
// the client's.
func (c *upConn) writeRequest(r *http.Request) {
	err := r.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	var opErr *net.OpError
	if err != nil && !errors.As(err, &opErr) {
		c.writeErr = err
		c.bodyBad.Store(true)
		if !c.headIn.Load() {
			c.conn.SetReadDeadline(time.Unix(1, 0))
		}
	}
	c.wrote <- err
}

// bodyFailed reports whether the request body failed on the client's side.
func (c *upConn) bodyFailed() bool { return c.bodyBad.Load() }

// requestWritten reports whether the current request went out whole, so
// that the connection is at a request's boundary. The writer has almost
// always finished when the answer is in (the app answers what it read);
// when it has not, the app answered early and the connection is given up.
func (c *upConn) requestWritten() bool {
	if !c.sending {
		return true
	}
	for range 2 {
		select {
		case err := <-c.wrote:
			c.sending = false
			return err == nil
		default:
			runtime.Gosched() // it may be between its last write and its report
		}
	}
	return false
}

// closeConn closes c for good.
func (t *transport) closeConn(c *upConn) {
	t.watch.remove(c)
	c.conn.Close()
}

// get takes a kept-alive connection to addr, or dials one.
func (t *transport) get(ctx context.Context, addr string) (c *upConn, reused bool, err error) {
	now := time.Now()
	t.mu.Lock()
	for cs := t.idle[addr]; len(cs) > 0; cs = t.idle[addr] {
		c = cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[addr] = cs[:len(cs)-1]
		if now.Sub(c.idleAt) < t.idleTimeout {
			t.mu.Unlock()
			// Anything on an idle connection (bytes the app sent after its
			// last answer, an unsolicited 408, its close) rules it out, as
			// http.Transport's reader does ("Unsolicited response received
			// on idle HTTP channel").
			if c.peek.idle() {
				return c, true, nil
			}
			t.closeConn(c)
			t.mu.Lock()
			continue
		}
		t.closeConn(c)
	}
	t.mu.Unlock()
	conn, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c = &upConn{conn: conn, addr: addr}
	c.peek.init(conn)
	t.watch.add(c)
	c.in.r = conn
	c.br = bufio.NewReaderSize(&c.in, 4<<10)
	c.bw = bufio.NewWriterSize(conn, 4<<10)
	return c, false, nil
}

// put keeps c for the next request to its address, unless the pool is full.
func (t *transport) put(c *upConn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.idle[c.addr]) >= t.maxIdle {
		t.closeConn(c)
		return
	}
	t.idle[c.addr] = append(t.idle[c.addr], c)
	if t.reaper == nil {
		t.reaper = time.AfterFunc(t.idleTimeout, t.reap)
	}
}

// reap closes the connections idle for longer than idleTimeout.
func (t *transport) reap() {
	t.mu.Lock()
	defer t.mu.Unlock()
	cutoff := time.Now().Add(-t.idleTimeout)
	for addr, cs := range t.idle {
		kept := cs[:0]
		for _, c := range cs {
			if c.idleAt.Before(cutoff) {
				t.closeConn(c)
			} else {
				kept = append(kept, c)
			}
		}
		clear(cs[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	if len(t.idle) > 0 {
		t.reaper.Reset(t.idleTimeout)
	} else {
		t.reaper = nil
	}
}

// CloseIdleConnections closes every kept-alive connection.
func (t *transport) CloseIdleConnections() {
	t.mu.Lock()
	for addr, cs := range t.idle {
		for _, c := range cs {
			t.closeConn(c)
		}
		delete(t.idle, addr)
	}
	t.mu.Unlock()
	t.fallback.CloseIdleConnections()
}
