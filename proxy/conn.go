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
	mu     sync.Mutex
	active map[*connState]struct{}
	ended  bool
}

type connState struct {
	cancel context.CancelFunc
	cur    *exchange // the request in progress (HTTP/1 requests on a connection are sequential)
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it gives each connection a
// context that EndAll can cancel.
func (s *Streams) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, connKey{}, &connState{cancel: cancel})
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
		s.active = map[*connState]struct{}{}
	}
	s.active[cs] = struct{}{}
	return true
}

func (s *Streams) unmarkStream(ctx context.Context) {
	cs, ok := ctx.Value(connKey{}).(*connState)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.active, cs)
	s.mu.Unlock()
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
	s.active = nil
}

// exchangeOf finds the exchange of a proxied request from its context.
func exchangeOf(ctx context.Context) *exchange {
	if cs, ok := ctx.Value(connKey{}).(*connState); ok {
		return cs.cur
	}
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return x
	}
	return nil
}

type exchangeKey struct{}
