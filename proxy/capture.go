package proxy

import (
	"net/http"
	"sync"

	"github.com/trailcar/trailcar/internal/capture"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rules"
)

// bodyCopy keeps the head of a body that a capture rule asks for, on the
// side of the stream: the body goes on to the app or the client as it
// comes, and only its first limit bytes are copied (docs/events.md
// "Bodies"). It lives in the exchange; its buffer is made only for a
// captured body.
type bodyCopy struct {
	mu    sync.Mutex // a request body may still be read by the transport while the event is made
	on    bool
	limit int
	buf   []byte
	seen  int64 // bytes that passed write
	size  int64 // the whole body's size once its end was read, else -1
}

func (c *bodyCopy) start(limit int, head []byte, ended bool) {
	c.on, c.limit, c.size = true, limit, -1
	c.buf = append(make([]byte, 0, min(limit, max(len(head), 512))), head[:min(len(head), limit)]...)
	if ended {
		c.size = int64(len(head))
	}
}

// write notes p, the next bytes of the body (those buf already holds from
// the read-ahead pass again), and the body's end.
func (c *bodyCopy) write(p []byte, end bool) {
	c.mu.Lock()
	at := c.seen
	c.seen += int64(len(p))
	if have := int64(len(c.buf)); have < int64(c.limit) && c.seen > have && at <= have {
		c.buf = append(c.buf, p[have-at:min(int64(len(p)), int64(c.limit)-at)]...)
	}
	if end {
		c.size = c.seen
	}
	c.mu.Unlock()
}

// kept is what the copy holds, for the event; size overrides an unknown
// size when not negative.
func (c *bodyCopy) kept(size int64, h http.Header) capture.Kept {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit = 0 // a read still in flight adds nothing to what the event reads
	k := capture.Kept{Head: c.buf, Size: c.size, ContentType: h.Get("Content-Type"), ContentEncoding: h.Get("Content-Encoding")}
	if size >= 0 {
		k.Size = size
	}
	return k
}

// startCapture begins the copies a capture rule asks for. The request
// body's head was read ahead already: it is copied from there, and the
// rest as the transport reads it.
func (x *exchange) startCapture(r *http.Request, c rules.Capture) {
	x.capture = c
	if c.Request && r.Body != nil && r.Body != http.NoBody {
		x.reqCopy.start(capture.HeadBytes(c.MaxBytes), x.pre.head, x.pre.ended)
	}
	if c.Response {
		x.resCopy.start(capture.HeadBytes(c.MaxBytes), nil, false)
	}
}

// captured sets the bodies of the final event that the capture rule asks
// for. A request trailcar refused (fail_closed, a body too slow) keeps
// nothing of its body: it never reached the app.
func (p *Proxy) captured(e *event.Event, x *exchange, r *http.Request) {
	if x.refused || x.reqBody.timedOut {
		return
	}
	if x.reqCopy.on {
		e.Req.Body, e.Req.BodyTruncated = p.fields.Body(x.reqCopy.kept(r.ContentLength, r.Header), x.capture.MaxBytes)
	}
	if x.resCopy.on && !x.hijacked {
		e.Res.Body, e.Res.BodyTruncated = p.fields.Body(x.resCopy.kept(x.bytes, x.rw.Header()), x.capture.MaxBytes)
	}
}
