package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
)

// testEvent is the line of an event stamped at base+i seconds.
func testEvent(t *testing.T, base time.Time, i int) string {
	t.Helper()
	e := &event.Event{ID: fmt.Sprintf("%032x", i+1), Time: base.Add(time.Duration(i) * time.Second), Type: event.TypeHTTP,
		Level: event.LevelInfo, Service: "s", Host: "h", Outcome: event.OutcomeSuccess}
	b, err := event.AppendJSON(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// TestFollowerResumes: a stream that breaks is asked again from the last
// event passed on; the replayed events are skipped, the ones written in
// between passed on, each once and in order.
func TestFollowerResumes(t *testing.T) {
	base := time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var sinces []string
	attempt := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempt++
		n := attempt
		sinces = append(sinces, r.URL.Query().Get("since"))
		mu.Unlock()
		if n == 2 { // a proxy in front while the sidecar restarts
			http.Error(w, "restarting", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		from, to := 1, 3 // the first stream: events 1-2, then it breaks
		if n == 3 {
			from, to = 0, 6 // a replay from too early (0 came before the follow), then events 3-5
		}
		for i := from; i < to; i++ {
			fmt.Fprintf(w, "data: %s\n\n", testEvent(t, base, i))
		}
		if n == 3 {
			w.(http.Flusher).Flush()
			<-r.Context().Done() // follows until the client leaves
		}
	}))
	defer srv.Close()
	var notes []string
	fl := &client.Follower{Client: &client.Client{BaseURL: srv.URL}, Retry: 10 * time.Millisecond,
		Notice: func(m string) { notes = append(notes, m) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	err := fl.Follow(ctx, &event.Filter{}, &client.Mark{}, func(line []byte) error {
		got = append(got, string(line))
		if len(got) == 5 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if i >= len(got) || got[i] != testEvent(t, base, i+1) {
			t.Fatalf("got %d events, event %d wrong:\n%s", len(got), i, strings.Join(got, "\n"))
		}
	}
	wantSince := base.Add(2 * time.Second).Format(time.RFC3339Nano)
	if len(sinces) != 3 || sinces[0] != "" || sinces[2] != wantSince {
		t.Errorf("since asked %q; want none, then %s", sinces, wantSince)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "reconnecting") || !strings.Contains(notes[1], "reconnected") {
		t.Errorf("notes %q", notes)
	}
}

// TestFollowerGivesUp: with no server it fails after GiveUp, at start
// too; a server that refuses (401) fails at once.
func TestFollowerGivesUp(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	fl := &client.Follower{Client: &client.Client{BaseURL: deadURL}, GiveUp: 300 * time.Millisecond, Retry: 20 * time.Millisecond}
	start := time.Now()
	err := fl.Follow(context.Background(), &event.Filter{}, &client.Mark{}, func([]byte) error { return nil })
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "no server answered for 300ms") || took < 300*time.Millisecond || took > 5*time.Second {
		t.Fatalf("after %v: %v", took, err)
	}

	calls := 0
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.Error(w, `{"error":"a token is required"}`, http.StatusUnauthorized)
	}))
	defer refusing.Close()
	fl.Client = &client.Client{BaseURL: refusing.URL}
	err = fl.Follow(context.Background(), &event.Filter{}, &client.Mark{}, func([]byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "401") || calls != 1 {
		t.Fatalf("%d calls: %v", calls, err)
	}
}

// TestMarkHosts: a cluster stream's pods arrive interleaved; a resumed
// stream starts at the pod heard from least recently, and passes on only
// what each pod had not sent yet. A list -f's rows set a floor.
func TestMarkHosts(t *testing.T) {
	at := func(id int, host string, sec int) []byte {
		e := &event.Event{ID: fmt.Sprintf("%032x", id), Time: time.Date(2026, 12, 7, 22, 0, sec, 0, time.UTC), Type: event.TypeHTTP,
			Level: event.LevelInfo, Service: "s", Host: host, Outcome: event.OutcomeSuccess}
		b, err := event.AppendJSON(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(strings.TrimSuffix(string(b), "\n"))
	}
	var m client.Mark
	for _, l := range [][]byte{at(1, "a", 10), at(2, "b", 5)} { // b's arrives late
		if !m.Take(l) {
			t.Fatalf("first sight of %s refused", l)
		}
	}
	if got := m.Since(); got.Second() != 5 {
		t.Fatalf("Since = %v; want b's latest, 22:00:05", got)
	}
	for _, tc := range []struct {
		line []byte
		want bool
	}{
		{at(2, "b", 5), false}, // the replay of what was printed
		{at(3, "a", 7), false}, // a's, older than a's latest: before the follow saw a
		{at(4, "b", 6), true},  // b's, written during the break
		{at(5, "a", 11), true},
		{at(5, "a", 11), false},
		{[]byte("not json"), false},
	} {
		if got := m.Take(tc.line); got != tc.want {
			t.Errorf("Take(%s) = %v, want %v", tc.line, got, tc.want)
		}
	}
	var listed client.Mark
	listed.Listed(at(10, "a", 20))
	listed.Listed(at(11, "b", 21))
	if listed.Take(at(12, "c", 19)) || !listed.Take(at(13, "c", 22)) {
		t.Error("a list -f's floor: an older event of another pod passed, or a newer one did not")
	}
}
