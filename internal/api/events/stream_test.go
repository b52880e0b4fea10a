package events_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	eventsapi "github.com/trailcar/trailcar/internal/api/events"
	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

type fixture struct {
	w    *audit.Writer
	srv  *httptest.Server
	done chan struct{}
}

// newFixture serves the events routes over a real audit file and writer.
func newFixture(t *testing.T, configure func(*eventsapi.Handler)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Service: "console", Host: "h", Metrics: metrics.New(prometheus.NewRegistry())})
	fx := &fixture{w: w, done: make(chan struct{})}
	h := &eventsapi.Handler{
		Store: store.New(store.Options{Dir: dir, Lock: f}), Wake: w.Written, AllowDelete: true,
		Record: func(ctx context.Context, e *event.Event) { w.EmitWritten(ctx, e) }, Done: fx.done,
	}
	if configure != nil {
		configure(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/events", h.List)
	mux.HandleFunc("GET /api/v3/events/stream", h.Stream)
	mux.HandleFunc("GET /api/v3/events/{id}", h.Get)
	fx.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		fx.srv.Close()
		w.Close(context.Background())
		f.Close()
	})
	return fx
}

func (fx *fixture) emit(t *testing.T, typ, level string) string {
	t.Helper()
	e := &event.Event{Type: typ, Level: level, Outcome: event.OutcomeSuccess, Message: strings.Repeat("m", 200)}
	if err := fx.w.Emit(e); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// openStream connects and returns a reader of its lines.
func openStream(t *testing.T, url string) (*bufio.Reader, *http.Response) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), resp
}

// message reads one server-sent message (up to its blank line).
func message(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v (after %q)", err, b.String())
		}
		if line == "\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

func TestStreamSendsMatchingEventsAndPings(t *testing.T) {
	fx := newFixture(t, func(h *eventsapi.Handler) { h.Heartbeat = 50 * time.Millisecond })
	r, _ := openStream(t, fx.srv.URL+"/api/v3/events/stream?level=error&type=system.test.*")
	fx.emit(t, "system.test.a", event.LevelInfo) // filtered out
	id := fx.emit(t, "system.test.b", event.LevelError)
	fx.emit(t, "system.other.c", event.LevelError) // filtered out
	id2 := fx.emit(t, "system.test.d", event.LevelError)
	var got []string
	pings := 0
	for len(got) < 2 {
		m := message(t, r)
		switch {
		case m == ": ping\n":
			pings++
		case strings.HasPrefix(m, "data: {"):
			var e event.Event
			if err := event.Decode([]byte(strings.TrimSuffix(strings.TrimPrefix(m, "data: "), "\n")), &e); err != nil {
				t.Fatalf("%v: %q", err, m)
			}
			got = append(got, e.ID)
		default:
			t.Fatalf("unexpected message %q", m)
		}
	}
	if got[0] != id || got[1] != id2 {
		t.Fatalf("got %v, want [%s %s]", got, id, id2)
	}
	for pings == 0 {
		if m := message(t, r); m != ": ping\n" {
			t.Fatalf("unexpected message %q", m)
		}
		pings++
	}
}

// TestStreamSlowReaderMissesNothing: the stream reads the files, not a
// buffer in memory, so a client that stops reading while 30,000 events
// (several rotations) are written gets every one of them, in order, when
// it reads again.
func TestStreamSlowReaderMissesNothing(t *testing.T) {
	fx := newFixture(t, nil)
	r, _ := openStream(t, fx.srv.URL+"/api/v3/events/stream?type=system.test.flood")
	var want []string
	for range 30000 {
		want = append(want, fx.emit(t, "system.test.flood", event.LevelInfo))
	}
	for i, id := range want {
		m := message(t, r)
		if m == ": ping\n" {
			continue
		}
		if !strings.Contains(m, `"id":"`+id+`"`) {
			t.Fatalf("message %d: %.120q, want event %s", i, m, id)
		}
	}
}

// TestStreamSinceReplays: with since, the stream first sends the matching
// events from that time on, then the new ones.
func TestStreamSinceReplays(t *testing.T) {
	fx := newFixture(t, nil)
	fx.emit(t, "system.test.old", event.LevelInfo)
	time.Sleep(20 * time.Millisecond)
	from := time.Now().UTC()
	a := fx.emit(t, "system.test.a", event.LevelInfo)
	b := fx.emit(t, "system.test.b", event.LevelInfo)
	for fx.w.QueueLen() > 0 {
		time.Sleep(time.Millisecond)
	}
	r, _ := openStream(t, fx.srv.URL+"/api/v3/events/stream?type=system.test.*&since="+from.Format(time.RFC3339Nano))
	c := fx.emit(t, "system.test.c", event.LevelInfo)
	for _, id := range []string{a, b, c} {
		if m := message(t, r); !strings.Contains(m, `"id":"`+id+`"`) {
			t.Fatalf("got %.120q, want event %s", m, id)
		}
	}
}

func TestStreamEndsAtShutdownAndLeavesNoGoroutine(t *testing.T) {
	fx := newFixture(t, nil)
	before := runtime.NumGoroutine()
	r, resp := openStream(t, fx.srv.URL+"/api/v3/events/stream")
	fx.emit(t, "system.test.a", event.LevelInfo)
	message(t, r)
	close(fx.done)
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("stream still open after Done closed")
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i > 200 {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamRejectsBadFilter(t *testing.T) {
	fx := newFixture(t, nil)
	resp, err := http.Get(fx.srv.URL + "/api/v3/events/stream?since=the+day+before")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.HasPrefix(string(body), `{"error":"since: `) {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
}
