package proxy

import (
	"context"
	"net"
	"sync"
	"time"
)

// Prober watches whether the upstream can be reached, by TCP connect,
// every Interval and whenever Kick is called (after a failed request).
// OnChange is called when the state changes, never otherwise, so an outage
// is one "unreachable" and one "recovered", however many requests fail.
// The state starts as reachable: an upstream down at start is reported.
type Prober struct {
	// Addr is the upstream's host:port.
	Addr string
	// Interval between probes; 0 means 5s.
	Interval time.Duration
	// Timeout of one connect; 0 means 2s.
	Timeout time.Duration
	// OnChange is called (from the prober's goroutine) with the new state
	// and, when unreachable, the error.
	OnChange func(reachable bool, err error)
	// Dial connects; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once sync.Once
	kick chan struct{}

	mu        sync.Mutex
	down      bool
	lastErr   error
	lastProbe time.Time
}

func (p *Prober) init() {
	p.once.Do(func() { p.kick = make(chan struct{}, 1) })
}

// Kick asks for a probe now; it never waits.
func (p *Prober) Kick() {
	p.init()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Reachable reports the state of the last probe, and its error.
func (p *Prober) Reachable() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.down, p.lastErr
}

// Run probes until ctx ends.
func (p *Prober) Run(ctx context.Context) {
	p.init()
	interval := p.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		p.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
	}
}

func (p *Prober) probe(ctx context.Context) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	dial := p.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := dial(cctx, "tcp", p.Addr)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: not the upstream's fault
	}
	if err == nil {
		conn.Close()
	}
	p.mu.Lock()
	wasDown := p.down
	p.down = err != nil
	p.lastErr = err
	p.lastProbe = time.Now()
	p.mu.Unlock()
	if wasDown != (err != nil) && p.OnChange != nil {
		p.OnChange(err == nil, err)
	}
}
