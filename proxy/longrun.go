package proxy

import (
	"bufio"
	"cmp"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A long-running answer (docs/guarantees.md "Long-running answers") has an
// event when it starts, so that an open session shows in the trail while it
// runs: a websocket when its 101 is sent, a text/event-stream answer when
// its head is sent, any other answer whose body is still being sent
// LongAnswer after its head. Its final event then says stage "completed";
// the started one has its own id and the request's in details.request_id.

// LongAnswer is how long an answer's body may be sent before it counts as
// long-running and gets its started event.
const LongAnswer = 10 * time.Second

// longBody is the least Content-Length that arms the LongAnswer timer: an
// answer that says it is smaller is a page, not a download or a stream,
// and sparing its timer keeps the common answer free of one.
const longBody = 1 << 20

// longRun is an exchange's long-running state.
type longRun struct {
	mu       sync.Mutex // orders the started event before the final one
	started  bool       // its started event was recorded
	finished bool       // finish has run: no started event any more
	timer    *time.Timer
	// tunnel bytes of a websocket, each way
	in, out atomic.Int64
}

// headSent is called when the final answer's head goes out: it records
// the started event of an event stream at once, and arms the timer of an
// answer that may run long.
func (x *exchange) headSent(h http.Header) {
	switch {
	case isEventStream(h):
		x.startedNow(x.status)
	case x.r != nil && mayRunLong(h):
		status := x.status
		x.long.timer = time.AfterFunc(cmp.Or(x.p.opts.LongAnswer, LongAnswer), func() { x.startedNow(status) })
	}
}

// mayRunLong reports whether an answer's head leaves room for a long body:
// no Content-Length (chunked, or until close), or a large one.
func mayRunLong(h http.Header) bool {
	cl := h["Content-Length"]
	if len(cl) == 0 {
		return true
	}
	n, err := strconv.ParseInt(cl[0], 10, 64)
	return err != nil || n >= longBody
}

// startedNow records the started event, unless the request has finished.
func (x *exchange) startedNow(status int) {
	x.long.mu.Lock()
	defer x.long.mu.Unlock()
	if x.long.started || x.long.finished {
		return
	}
	x.long.started = true
	x.p.recordStarted(x, x.r, status)
}

// endLong is called by finish before the final event: after it no started
// event is recorded. It reports false when the exchange must not be
// reused: its timer fired and its function may still hold the exchange.
func (x *exchange) endLong() (reusable bool) {
	x.long.mu.Lock()
	x.long.finished = true
	x.long.mu.Unlock()
	if t := x.long.timer; t != nil {
		return t.Stop()
	}
	return true
}

// Hijack is the websocket's switch: ReverseProxy hijacks the client's
// connection to tunnel the two ways, and the tunnel's bytes are counted on
// it (res.bytes out, req.bytes in). The started event is recorded here,
// as the 101 goes out.
func (x *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(x.rw).Hijack()
	if err != nil {
		return nil, nil, err
	}
	x.hijacked = true
	x.startedNow(http.StatusSwitchingProtocols)
	return &tunnelConn{Conn: conn, long: &x.long}, brw, nil
}

// tunnelConn counts a websocket's bytes each way.
type tunnelConn struct {
	net.Conn
	long *longRun
}

func (c *tunnelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.long.in.Add(int64(n))
	return n, err
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.long.out.Add(int64(n))
	return n, err
}
