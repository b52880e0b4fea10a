package proxy

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Listener is the proxy port's listener. It bounds the connections open
// at once (past MaxConns, new ones wait in the kernel's backlog until one
// closes), and it sees what net/http answers on its own: a request it
// refuses before any handler runs (a malformed request line, a duplicate
// Content-Length, a bad Host, headers too large, an unknown
// Transfer-Encoding) is written straight to the connection. Such a refusal
// is reported to Refused, so that it is audited like nginx and HAProxy log
// theirs. Use it with ConnState as the server's ConnState hook.
type Listener struct {
	net.Listener
	// Refused, if set, gets each refusal: the client's address, the
	// status, the start of what the client sent (its request line, if
	// it got that far) and net/http's reason.
	Refused func(remote string, status int, sent []byte, reason string)

	slots chan struct{} // one per open connection; nil: no bound
}

// NewListener wraps ln; maxConns <= 0 means no bound.
func NewListener(ln net.Listener, maxConns int) *Listener {
	l := &Listener{Listener: ln}
	if maxConns > 0 {
		l.slots = make(chan struct{}, maxConns)
	}
	return l
}

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	if l.slots != nil {
		l.slots <- struct{}{}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		if l.slots != nil {
			<-l.slots
		}
		return nil, err
	}
	return &watchedConn{Conn: c, l: l}, nil
}

// ConnState is for http.Server.ConnState: a connection going idle starts
// a new request, which no handler has taken yet.
func ConnState(c net.Conn, state http.ConnState) {
	if wc, ok := c.(*watchedConn); ok && state == http.StateIdle {
		wc.handled.Store(false)
		wc.mu.Lock()
		wc.sent = wc.sent[:0]
		wc.mu.Unlock()
	}
}

// watchedConn is one connection of the proxy port.
type watchedConn struct {
	net.Conn
	l         *Listener
	handled   atomic.Bool // a handler took the current request
	closeOnce sync.Once
	reported  bool

	mu   sync.Mutex
	sent []byte // the start of the current request, while no handler has it
}

// maxSent is how much of an unhandled request is kept for its event, and
// maxReason how much of net/http's reason for refusing it.
const (
	maxSent   = 512
	maxReason = 256
)

// Read yields before it reads. net/http reads a connection only once its
// buffer is empty, when the next bytes (a kept-alive client's next
// request, most often) are seldom there yet: reading at once would find
// the socket empty and park the goroutine until the netpoller wakes it.
// Yielding first runs the other ready requests and comes back to a socket
// that has more often been filled, as the transport does before reading
// the app's answer. Under the proxy bench the two yields together took
// trailcar's p99 from 1.5x a pooled ReverseProxy's to 0.8x, at the same
// req/s (docs/performance.md "Proxy").
func (c *watchedConn) Read(p []byte) (int, error) {
	runtime.Gosched()
	n, err := c.Conn.Read(p)
	if n > 0 && !c.handled.Load() {
		c.mu.Lock()
		if room := maxSent - len(c.sent); room > 0 {
			c.sent = append(c.sent, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// Write passes p on; a status line written while no handler has the
// request is net/http refusing it.
func (c *watchedConn) Write(p []byte) (int, error) {
	if !c.handled.Load() && !c.reported && c.l.Refused != nil && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && len(p) >= 12 {
		if status, err := strconv.Atoi(string(p[9:12])); err == nil && status >= 400 {
			c.reported = true // net/http closes the connection after it
			// net/http's own refusal: its body is net/http's reason, a
			// short text (an app's answer never gets here: a handler
			// took those requests), kept to maxReason bytes.
			reason := ""
			if _, body, ok := bytes.Cut(p, []byte("\r\n\r\n")); ok {
				reason = strings.ToValidUTF8(string(body[:min(len(body), maxReason)]), "")
			}
			c.mu.Lock()
			sent := bytes.Clone(c.sent)
			c.mu.Unlock()
			c.l.Refused(c.RemoteAddr().String(), status, sent, reason)
		}
	}
	return c.Conn.Write(p)
}

func (c *watchedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		if c.l.slots != nil {
			<-c.l.slots
		}
	})
	return err
}

// markHandled records that a handler took the connection's current
// request.
func markHandled(c net.Conn) {
	if wc, ok := c.(*watchedConn); ok {
		wc.handled.Store(true)
	}
}
