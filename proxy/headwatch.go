package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// headWatch bounds the wait for the app's answer heads (upstream_timeout)
// without a timer per request: setting and clearing a read deadline around
// every head was two timer changes per request, about 2% of the whole
// request path's CPU. A connection waiting for a head notes since when; a
// check that runs every timeout/20 while connections are open cuts the ones
// waiting longer than timeout by moving their read deadline into the past.
// A head is so cut between timeout and 1.05 x timeout after its request
// was written.
type headWatch struct {
	timeout time.Duration
	tick    time.Duration

	mu    sync.Mutex
	conns map[*upConn]struct{} // every open connection of the transport
	timer *time.Timer          // armed while conns is not empty
}

// cutMark in upConn.waiting says the watch cut the wait: the read deadline
// is (or is about to be) in the past, and the request has timed out.
const cutMark = -1

func newHeadWatch(timeout time.Duration) *headWatch {
	if timeout <= 0 {
		return nil
	}
	return &headWatch{timeout: timeout, tick: max(timeout/20, time.Millisecond), conns: map[*upConn]struct{}{}}
}

// add starts watching c (at its dial).
func (w *headWatch) add(c *upConn) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns[c] = struct{}{}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.tick, w.check)
	}
}

// remove stops watching c (at its close).
func (w *headWatch) remove(c *upConn) {
	if w == nil {
		return
	}
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

// wait notes that c waits for a head from now on.
func (w *headWatch) wait(c *upConn) {
	if w != nil {
		c.waiting.Store(time.Now().UnixNano())
	}
}

// done notes that c's head is in, and reports false when the watch cut
// the wait first: the head came too late, and the connection's deadline
// is spoilt.
func (w *headWatch) done(c *upConn) bool {
	return w == nil || c.waiting.Swap(0) != cutMark
}

func (w *headWatch) check() {
	now := time.Now().UnixNano()
	limit := w.timeout.Nanoseconds()
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.conns {
		if since := c.waiting.Load(); since > 0 && now-since > limit && c.waiting.CompareAndSwap(since, cutMark) {
			c.conn.SetReadDeadline(time.Unix(1, 0))
		}
	}
	if len(w.conns) > 0 {
		w.timer.Reset(w.tick)
	} else {
		w.timer = nil
	}
}

// waitState is an upConn's head wait: 0 not waiting, cutMark cut, else
// the UnixNano it began.
type waitState = atomic.Int64
