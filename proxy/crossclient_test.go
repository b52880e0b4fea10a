package proxy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy"
)

// statusSink keeps each event's status by id, for the cross-client test:
// the trail must say what each client got.
type statusSink struct {
	mu     sync.Mutex
	status map[string]int
	dup    int
}

func (s *statusSink) Emit(e *event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.status[e.ID]; ok {
		s.dup++
	}
	s.status[e.ID] = e.Res.StatusCode
	return nil
}

// framingBreaker answers each request with its caller's own answer (the
// secret and sequence number from the request, echoed in a header and in
// the body) and, on some answers, breaks HTTP's framing in the same write:
// a second answer that echoes someone else, a body on a HEAD or 204 answer,
// bytes past the Content-Length, "Connection: close" or HTTP/1.0 with the
// socket left open, or a close it does not announce. Only what a correct
// proxy can always tell is wrong: no bytes sent later on an idle
// connection, which even http.Transport reads as the next answer if a
// request is sent at that moment.
func framingBreaker(seed uint64) func(c *appConn, r *http.Request) bool {
	var conns atomic.Uint64
	return func(c *appConn, r *http.Request) bool {
		rng := mrand.New(mrand.NewPCG(seed, conns.Add(1)<<32|uint64(c.n)))
		echo := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + "/" + r.Header.Get("X-Seq")
		body := echo
		status := "200 OK"
		if r.Header.Get("X-Want") == "204" {
			status, body = "204 No Content", ""
		}
		head := "HTTP/1.1 " + status + "\r\nX-App: yes\r\nX-Echo: " + echo + "\r\n"
		if status[0] == '2' && body != "" || r.Method == "HEAD" {
			head += fmt.Sprintf("Content-Length: %d\r\n", len(echo))
		}
		if r.Method == "HEAD" {
			body = ""
		}
		evil := "HTTP/1.1 200 OK\r\nX-App: yes\r\nX-Echo: mallory/0\r\nContent-Length: 8\r\n\r\nmallory!"
		keep := true
		switch n := rng.IntN(100); {
		case n < 60: // as it should be
		case n < 70: // a second answer, for whoever asks next
			body += evil
		case n < 75: // bytes past the answer's end that are no answer
			body += "garbage\r\n\r\n"
		case n < 80: // "Connection: close", and the socket left open with more
			head += "Connection: close\r\n"
			body += evil
		case n < 85: // HTTP/1.0 without keep-alive, the socket left open
			head = "HTTP/1.0" + head[len("HTTP/1.1"):]
			body += evil
		case n < 95: // closed after the answer, without saying so
			keep = false
		default: // cut off with an RST after the answer
			c.send(head + "\r\n" + body)
			c.reset()
			return false
		}
		c.send(head + "\r\n" + body)
		return keep
	}
}

// TestCrossClientAnswers: many clients, each with its own secret, through
// trailcar to an app that breaks framing on about 40% of its answers, on
// both of trailcar's ways to the app (GET and HEAD on its own transport,
// POST on http.Transport). Every answer a client gets is its own (or
// trailcar's own 502, when the app cut a connection), never another's,
// and the event of each request says the status its client got.
func TestCrossClientAnswers(t *testing.T) {
	total, limit := 100_000, 120*time.Second
	if sidecartest.RaceEnabled {
		total = 20_000 // the race detector makes each request ~10x dearer
	}
	if testing.Short() {
		total = 5_000
	}
	const clients = 32
	seed := mrand.Uint64()
	t.Logf("app seed %d", seed)
	app := newRawApp(t, framingBreaker(seed))
	sink := &statusSink{status: map[string]int{}}
	p := startTrailcar(t, app.url(), func(o *proxy.Options) { o.Sink = sink })

	var sent, own, proxyErrors, shifted atomic.Int64
	var mu sync.Mutex
	got := map[string]int{} // request id -> status the client got
	deadline := time.Now().Add(limit)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			secret := make([]byte, 8)
			rand.Read(secret)
			me := hex.EncodeToString(secret)
			tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for seq := 0; time.Now().Before(deadline); seq++ {
				if sent.Add(1) > int64(total) {
					return
				}
				method, want204 := "GET", seq%7 == 3
				var body io.Reader
				switch seq % 5 {
				case 1:
					method = "HEAD"
				case 2, 4:
					method, body = "POST", strings.NewReader("x="+me)
				}
				req, _ := http.NewRequestWithContext(context.Background(), method, p.front.URL+"/r", body)
				req.Header.Set("Authorization", "Bearer "+me)
				req.Header.Set("X-Seq", fmt.Sprint(seq))
				if want204 {
					req.Header.Set("X-Want", "204")
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("client %s request %d: %v", me, seq, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				got[resp.Header.Get("X-Request-Id")] = resp.StatusCode
				mu.Unlock()
				want := fmt.Sprintf("%s/%d", me, seq)
				switch {
				case resp.Header.Get("X-App") != "yes" && resp.StatusCode == http.StatusBadGateway:
					proxyErrors.Add(1)
				case resp.Header.Get("X-Echo") == want && err == nil &&
					(string(b) == want || (method == "HEAD" || want204) && len(b) == 0):
					own.Add(1)
				default:
					shifted.Add(1)
					t.Errorf("client %s request %d (%s) got %d, X-Echo %q, body %q (%v): not its own answer",
						me, seq, method, resp.StatusCode, resp.Header.Get("X-Echo"), b, err)
				}
			}
		}()
	}
	wg.Wait()
	done := own.Load() + proxyErrors.Load() + shifted.Load()
	t.Logf("%d requests from %d clients: %d their own answer, %d trailcar's 502 (the app cut the connection), %d shifted",
		done, clients, own.Load(), proxyErrors.Load(), shifted.Load())
	if done < int64(total) {
		t.Errorf("only %d of %d requests within %v", done, total, limit)
	}
	if shifted.Load() != 0 {
		t.Errorf("%d answers went to the wrong client", shifted.Load())
	}
	if proxyErrors.Load() > done/100 {
		t.Errorf("%d of %d requests failed: more than the app's cuts explain", proxyErrors.Load(), done)
	}
	sidecartest.Eventually(t, "an event for every request", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.status) >= len(got)
	})
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.dup != 0 {
		t.Errorf("%d requests made two events", sink.dup)
	}
	for id, status := range got {
		if sink.status[id] != status {
			t.Errorf("request %s: the client got %d, its event says %d", id, status, sink.status[id])
		}
	}
}
