package proxy

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Default bounds on how slowly a client may send a request body (see
// Options.BodyGrace). A body must come at BodyMinRate bytes a second on
// average, after a grace of BodyGrace:
// a client trickling a byte every few seconds would otherwise hold a
// connection here and one to the app for as long as it likes. Real
// uploads, even over a poor link, are far above the rate.
const (
	BodyGrace   = 10 * time.Second
	BodyMinRate = 1024 // bytes per second
)

// errBodyTooSlow ends a body that came slower than BodyMinRate.
var errBodyTooSlow = errors.New("request body sent too slowly")

// slowBody bounds the time a request body may take (see BodyMinRate), by
// moving the connection's read deadline as bytes arrive. It lives in the
// exchange: no allocation per request.
type slowBody struct {
	rc       io.ReadCloser
	ctl      *http.ResponseController
	start    time.Time
	grace    time.Duration
	rate     int64
	read     int64
	deadline time.Time
	timedOut bool
	done     bool
	broken   error // the client's body ended otherwise than at its end: the client left or sent it malformed
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.done {
		return b.rc.Read(p)
	}
	n, err := b.rc.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
		b.ctl.SetReadDeadline(time.Time{}) // the body is in: no bound on what follows
	case err != nil:
		if isTimeout(err) {
			b.timedOut = true
			return n, errBodyTooSlow
		}
		if b.broken == nil {
			b.broken = err
		}
	default:
		// Push the deadline back as bytes arrive, but not on every read.
		if d := b.start.Add(b.grace + time.Duration(b.read)*time.Second/time.Duration(b.rate)); d.Sub(b.deadline) >= b.grace/10 {
			b.deadline = d
			b.ctl.SetReadDeadline(d)
		}
	}
	return n, err
}

func (b *slowBody) Close() error { return b.rc.Close() }

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// boundBody starts bounding r's body, if it has one.
func (x *exchange) boundBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	o := &x.p.opts
	x.reqBody = slowBody{rc: r.Body, ctl: http.NewResponseController(x.rw), start: x.start,
		grace: cmp.Or(o.BodyGrace, BodyGrace), rate: int64(cmp.Or(o.BodyMinRate, BodyMinRate))}
	x.reqBody.deadline = x.start.Add(x.reqBody.grace)
	if x.reqBody.ctl.SetReadDeadline(x.reqBody.deadline) != nil {
		return // not supported (HTTP/2's own flow control bounds it)
	}
	r.Body = &x.reqBody
}

// BodyPrefetch is how much of a request body is read before the app is
// called (as nginx's proxy_request_buffering does): a client that sends
// its body slowly then holds only its own connection, never one to the
// app, until the body is in or it is cut for being too slow. Bodies longer
// than this stream on after it.
const BodyPrefetch = 64 << 10

// smallBodies hold the first 4 KiB of request bodies, most requests' whole
// body: reading it costs no allocation.
var smallBodies = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

// prefetched is a request body whose head was read ahead. It lives in the
// exchange: no allocation per request.
type prefetched struct {
	head   []byte
	pooled *[]byte // given back at Close, when the transport is done with it
	rest   io.ReadCloser
	ended  bool // the body ended within head
	closed bool
}

func (p *prefetched) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	if p.ended || p.closed {
		return 0, io.EOF
	}
	return p.rest.Read(b)
}

func (p *prefetched) Close() error {
	if p.closed {
		return nil
	}
	p.closed, p.head = true, nil
	if p.pooled != nil {
		smallBodies.Put(p.pooled)
		p.pooled = nil
	}
	return p.rest.Close()
}

// prefetch reads up to BodyPrefetch of r's body before the app is called.
func (x *exchange) prefetch(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	bp := smallBodies.Get().(*[]byte)
	n, err := fill(r.Body, *bp)
	if err == io.EOF {
		x.pre = prefetched{head: (*bp)[:n], pooled: bp, rest: r.Body, ended: true}
		r.Body = &x.pre
		return nil
	}
	if err != nil {
		smallBodies.Put(bp)
		return err
	}
	// More than 4 KiB: read on, into a buffer that grows with what comes
	// (a client trickling bytes holds little), up to BodyPrefetch.
	want := BodyPrefetch
	if r.ContentLength > 0 && r.ContentLength < BodyPrefetch {
		want = int(r.ContentLength)
	}
	data := make([]byte, n, min(want, 2*n))
	copy(data, (*bp)[:n])
	smallBodies.Put(bp)
	ended := false
	for len(data) < want {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // grow
		}
		m, err := r.Body.Read(data[len(data):min(cap(data), want)])
		data = data[:len(data)+m]
		if err == io.EOF {
			ended = true
			break
		}
		if err != nil {
			return err
		}
	}
	x.pre = prefetched{head: data, rest: r.Body, ended: ended}
	r.Body = &x.pre
	return nil
}

// fill reads into b until it is full or r fails. Unlike io.ReadFull it
// keeps r's own error: io.EOF is the body's end, io.ErrUnexpectedEOF from
// net/http a client that left before sending all of it (ReadFull turns
// both into the same ErrUnexpectedEOF).
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sentBody is a request body as the transport reads it. The transport may
// still be reading it after the handler returned (an app that answered
// before it read the whole body), and the body lives in the pooled exchange,
// which the next request then uses: once closed, no read reaches it, and an
// exchange whose body is being read at that moment is not reused.
type sentBody struct {
	mu     sync.Mutex // held by a read in flight
	closed atomic.Bool
	src    io.ReadCloser
	x      *exchange
}

var errBodyClosed = errors.New("request body read after its request ended")

func (b *sentBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return 0, errBodyClosed
	}
	n, err := b.src.Read(p)
	if b.x.reqCopy.on {
		b.x.reqCopy.write(p[:n], err == io.EOF)
	}
	return n, err
}

// Close ends the body for good and reports whether its exchange may be
// reused: false while a read is in flight (waiting on the client, most
// likely: that read is cut short, and the exchange left to the collector
// rather than waited for).
func (b *sentBody) Close() error {
	b.release()
	return nil
}

func (b *sentBody) release() (reusable bool) {
	if b.closed.Swap(true) {
		return b.mu.TryLock() && unlock(&b.mu)
	}
	if !b.mu.TryLock() {
		http.NewResponseController(b.x.rw).SetReadDeadline(time.Unix(1, 0))
		return false
	}
	defer b.mu.Unlock()
	b.src.Close()
	return true
}

func unlock(mu *sync.Mutex) bool { mu.Unlock(); return true }
