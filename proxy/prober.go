package proxy

import (
	"cmp"
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
// One failed probe is not an outage (a slow moment, a full backlog): the
// upstream is unreachable after Failures probes in a row fail, the ones
// after the first made soon after it; one that connects makes it reachable.
type Prober struct {
	// Addr is the upstream's host:port.
	Addr string
	// Interval between probes; 0 means 5s.
	Interval time.Duration
	// Timeout of one connect; 0 means 2s.
	Timeout time.Duration
	// Failures is how many probes in a row must fail; 0 means 3.
	Failures int
	// Retry is the wait before probing again after a failure, while the
	// state is still reachable; 0 means 500ms.
	Retry time.Duration
	// OnChange is called (from the prober's goroutine) with the new state
	// and, when unreachable, the error.
	OnChange func(reachable bool, err error)
	// Dial connects; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once sync.Once
	kick chan struct{}

	mu        sync.Mutex
	failed    int // probes failed in a row
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
	retry := cmp.Or(p.Retry, 500*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var again <-chan time.Time
		if p.probe(ctx) {
			again = time.After(retry) // failing, not yet unreachable: look again soon
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		case <-again:
		}
	}
}

// probe connects once; it reports whether the upstream is failing without
// being declared unreachable yet.
func (p *Prober) probe(ctx context.Context) (pending bool) {
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
		return false // shutting down: not the upstream's fault
	}
	if err == nil {
		conn.Close()
	}
	need := cmp.Or(p.Failures, 3)
	p.mu.Lock()
	wasDown := p.down
	if err == nil {
		p.failed = 0
		p.down = false
	} else {
		p.failed++
		p.down = p.down || p.failed >= need
	}
	down := p.down
	pending = err != nil && !down
	p.lastErr = err
	p.lastProbe = time.Now()
	p.mu.Unlock()
	if wasDown != down && p.OnChange != nil {
		p.OnChange(!down, err)
	}
	return pending
}
