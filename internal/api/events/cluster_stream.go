package events

import (
	"context"
	"encoding/json"
	"net/http"
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
			h.relayPeer(ctx, r, base+"/api/v3/events/stream?"+q.Encode(), ls, &states[i], connected, i)
		}()
	}
	// Wait for the peers to connect, each at most the timeout.
	deadline := time.After(h.Cluster.Timeout())
	for range urls {
		select {
		case <-connected:
			continue
		case <-deadline:
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

// relayPeer copies one peer's stream into ls.
func (h *Handler) relayPeer(ctx context.Context, r *http.Request, u string, ls *lockedSSE, st *cluster.PeerState, connected chan<- int, i int) {
	start := time.Now()
	fail := func(msg string) {
		ls.mu.Lock()
		st.OK, st.Error, st.TookMS = false, msg, time.Since(start).Milliseconds()
		ls.mu.Unlock()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	for k, v := range cluster.Auth(r, "text/event-stream") {
		req.Header[k] = v
	}
	// Only the wait for the answer's head is bounded: the stream then
	// lasts as long as the caller's.
	timer := time.AfterFunc(h.Cluster.Timeout(), func() { fail("timeout") })
	resp, err := streamClient.Do(req)
	stopped := timer.Stop()
	if err != nil || resp.StatusCode != http.StatusOK || !stopped {
		if err == nil {
			resp.Body.Close()
			if stopped {
				fail("answered " + resp.Status)
			}
		} else if stopped {
			fail(err.Error())
		}
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

// streamClient holds peers' streams open as long as they last.
var streamClient = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}

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
