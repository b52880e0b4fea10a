package clientevent

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxClients bounds how many client addresses a Limiter remembers.
const DefaultMaxClients = 10000

// Limiter is a token bucket per client address (golang.org/x/time/rate),
// holding at most MaxClients buckets. A bucket left alone long enough to
// be full again is worth nothing (a new one would be the same), so such
// buckets are dropped first; when every remembered address is active, the
// one seen least recently is forgotten, which at worst gives that client a
// fresh burst. Memory therefore stays bounded whatever addresses clients
// claim. Its methods are safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	max   int
	// idle is how long an unused bucket takes to fill up again.
	idle time.Duration

	mu      sync.Mutex
	clients map[string]*list.Element // of *bucket
	lru     list.List                // most recently seen at the front
}

type bucket struct {
	addr string
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter returns a Limiter allowing perSecond events per address on
// average and burst at once, remembering at most maxClients addresses (0
// means DefaultMaxClients). perSecond must be positive and burst at least 1.
func NewLimiter(perSecond float64, burst, maxClients int) *Limiter {
	if maxClients <= 0 {
		maxClients = DefaultMaxClients
	}
	return &Limiter{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		max:     maxClients,
		idle:    time.Duration(math.Ceil(float64(burst) / perSecond * float64(time.Second))),
		clients: make(map[string]*list.Element),
	}
}

// Allow takes one token from addr's bucket at now. When there is none it
// returns false and how long until there will be one.
func (l *Limiter) Allow(addr string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(addr, now)
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second // burst < 1: never; NewLimiter's contract excludes it
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused event must not use up a later token
		return false, d
	}
	return true, 0
}

// Len is the number of addresses remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// bucketLocked finds or makes addr's bucket and marks it seen. mu is held.
func (l *Limiter) bucketLocked(addr string, now time.Time) *bucket {
	if el, ok := l.clients[addr]; ok {
		b := el.Value.(*bucket)
		b.seen = now
		l.lru.MoveToFront(el)
		return b
	}
	l.evictLocked(now)
	b := &bucket{addr: addr, lim: rate.NewLimiter(l.limit, l.burst), seen: now}
	l.clients[addr] = l.lru.PushFront(b)
	return b
}

// evictLocked makes room for one more bucket: it drops buckets that are
// full again from the back (the least recently seen), and if the map is
// still at its bound, the least recently seen bucket. Each call does work
// proportional to what it drops, so a flood of new addresses costs O(1)
// per event. mu is held.
func (l *Limiter) evictLocked(now time.Time) {
	for back := l.lru.Back(); back != nil; back = l.lru.Back() {
		b := back.Value.(*bucket)
		if len(l.clients) < l.max && now.Sub(b.seen) < l.idle {
			return
		}
		l.lru.Remove(back)
		delete(l.clients, b.addr)
	}
}
