package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// streamCluster is the stream of every pod: this pod's followed here, each
// peer's (scope=local) relayed as it comes, in arrival order. The peers'
// states go out as "event: peers" messages: at connect, and whenever a
// peer's stream ends.
func (h *Handler) streamCluster(w http.ResponseWriter, r *http.Request, f event.Filter, s *sse) {
	ls := &lockedSSE{s: s}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	q := peerQuery(r.URL.Query())
	urls, failed := h.Cluster.Peers(ctx)
	states := make([]cluster.PeerState, len(urls))
	var wg sync.WaitGroup
	connected := make(chan int, len(urls))
	for i, base := range urls {
		states[i] = cluster.PeerState{URL: base}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.relayPeer(ctx, r, base, q, ls, &states[i], connected, i)
		}()
	}
	// Wait for the peers to connect or fail: Cluster.Open bounds each
	// one's head by the timeout, so this wait is bounded too.
	for range urls {
		select {
		case <-connected:
			continue
		case <-ctx.Done():
		}
		break
	}
	report := func() {
		ls.mu.Lock()
		all := append(append([]cluster.PeerState(nil), states...), failed...)
		ls.mu.Unlock()
		b, _ := json.Marshal(all)
		ls.raw("event: peers\ndata: " + string(b) + "\n\n")
	}
	ls.onPeerEnd = report
	report()
	from := f.Since
	f.Since = time.Time{}
	err := h.Store.FollowEvents(ctx, &f, store.FollowOptions{
		Since: from, Until: f.Before, Poll: h.Poll, Wake: h.Wake, Done: h.Done, Tick: ls.tick,
	}, ls.event)
	cancel()
	wg.Wait()
	if err != nil && !s.started {
		h.internalError(w, r, err)
	}
}

// relayPeer copies the stream of the peer at base into ls.
func (h *Handler) relayPeer(ctx context.Context, r *http.Request, base string, q url.Values, ls *lockedSSE, st *cluster.PeerState, connected chan<- int, i int) {
	start := time.Now()
	fail := func(msg string) {
		ls.mu.Lock()
		st.OK, st.Error, st.TookMS = false, msg, time.Since(start).Milliseconds()
		ls.mu.Unlock()
	}
	// Only the wait for the answer's head is bounded (Open): the stream
	// then lasts as long as the caller's.
	resp, err := h.Cluster.Open(ctx, base, http.MethodGet, "/api/v3/events/stream", q, cluster.Auth(r, "text/event-stream"))
	if err == nil && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err = errors.New("answered " + resp.Status)
	}
	if err != nil {
		fail(err.Error())
		connected <- i
		return
	}
	defer resp.Body.Close()
	ls.mu.Lock()
	st.OK, st.Host, st.TookMS = true, resp.Header.Get("X-Trailcar-Host"), time.Since(start).Milliseconds()
	ls.mu.Unlock()
	connected <- i
	client.ReadSSE(resp.Body, func(kind string, data []byte) error {
		if kind != "" {
			return nil // the peer's own notices are its own
		}
		return ls.event(data)
	})
	if ctx.Err() == nil {
		fail("stream ended")
		if ls.onPeerEnd != nil {
			ls.onPeerEnd()
		}
	}
}

// lockedSSE lets the follower and the peers' relays write one stream.
type lockedSSE struct {
	mu        sync.Mutex
	s         *sse
	onPeerEnd func()
}

func (l *lockedSSE) event(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.s.event(line); err != nil {
		return err
	}
	if l.s.started {
		return l.s.flush() // relayed lines go out at once
	}
	return nil
}

func (l *lockedSSE) tick() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.tick()
}

func (l *lockedSSE) raw(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.s.started {
		l.s.tick()
	}
	l.s.buf = append(l.s.buf, msg...)
	l.s.flush()
}
