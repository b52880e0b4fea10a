package proxy

import (
	"context"
	"net"
	"sync"
)

// Streams tracks the long-lived responses on the proxy port (server-sent
// events, websockets) so that shutdown can end them while letting ordinary
// requests finish. It hooks in per connection (http.Server.ConnContext),
// so ordinary requests pay nothing for it.
type Streams struct {
	mu      sync.Mutex
	active  map[*connState]int // streams in progress, per connection
	ended   bool
	drained chan struct{} // made by Wait, closed once ended with nothing active
	closed  bool          // drained is closed
}

type connState struct {
	conn   net.Conn
	cancel context.CancelFunc
	cur    *exchange // the request in progress (HTTP/1 requests on a connection are sequential)
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it gives each connection a
// context that EndAll can cancel.
func (s *Streams) ConnContext(ctx context.Context, c net.Conn) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, connKey{}, &connState{conn: c, cancel: cancel})
}

// markStream records that the connection of ctx now carries a stream.
// It reports false when shutdown already began; the caller then ends it.
func (s *Streams) markStream(ctx context.Context) bool {
	cs, ok := ctx.Value(connKey{}).(*connState)
	if !ok {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		cs.cancel()
		return false
	}
	if s.active == nil {
		s.active = map[*connState]int{}
	}
	s.active[cs]++
	return true
}

// unmarkStream records that a stream markStream accepted is over: its
// handler is returning and its event was recorded.
func (s *Streams) unmarkStream(ctx context.Context) {
	cs, ok := ctx.Value(connKey{}).(*connState)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch n := s.active[cs]; {
	case n > 1:
		s.active[cs] = n - 1
	case n == 1:
		delete(s.active, cs)
	}
	s.checkDrainedLocked()
}

// EndAll cancels every stream in progress and any that starts later, so
// that http.Server.Shutdown does not wait for them.
func (s *Streams) EndAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	for cs := range s.active {
		cs.cancel()
	}
	s.checkDrainedLocked()
}

// Wait waits, after EndAll, until every stream has finished and recorded
// its event, or ctx ends. It is needed because http.Server.Shutdown does
// not wait for hijacked connections (websockets).
func (s *Streams) Wait(ctx context.Context) error {
	s.mu.Lock()
	if s.drained == nil {
		s.drained = make(chan struct{})
		s.checkDrainedLocked()
	}
	drained := s.drained
	s.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Streams) checkDrainedLocked() {
	if s.ended && len(s.active) == 0 && s.drained != nil && !s.closed {
		close(s.drained)
		s.closed = true
	}
}

// exchangeOf finds the exchange of a proxied request from its context.
// An HTTP/1 request's exchange is its connection's current one, found a
// few levels up; only when there is none (HTTP/2, or no Streams) is the
// exchange looked up in the request's own context. The other order costs
// a walk of the whole context chain per lookup for every HTTP/1 request
// (the upstream request's context is the deepest: ReverseProxy adds its
// trace on top): under the proxy bench that walk was the largest single
// item of trailcar's own profile, about 1% of its CPU.
func exchangeOf(ctx context.Context) *exchange {
	if cs, ok := ctx.Value(connKey{}).(*connState); ok && cs.cur != nil {
		return cs.cur
	}
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

type exchangeKey struct{}
