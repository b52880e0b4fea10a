package sidecar_test

import (
	"cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// countingUpstream answers 200 and counts what reached it, by method and
// path.
type countingUpstream struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string]int
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{got: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got[r.Method+" "+r.URL.Path]++
		u.mu.Unlock()
		w.Write([]byte(`{"upstream":true}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *countingUpstream) count(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.got[key]
}

// TestClientEventsOnTheProxyPort: client events are answered by the
// sidecar, never forwarded, and recorded once: a good one as a client
// event (no http event for the same request), a refused one as an ordinary
// http event.
func TestClientEventsOnTheProxyPort(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := sidecartest.Config(t, up.URL)
	cfg.ClientEvents.Rate, cfg.ClientEvents.Burst = 0.5, 3
	s := sidecartest.Start(t, cfg)
	path := "/api/v3/events/channels/MyChannel"
	url := s.ProxyURL() + path

	tests := []struct {
		name        string
		body        string
		xff         string
		wantStatus  int
		wantBody    string
		wantEvent   string // type of the one event of the request
		wantRetryAf string
	}{
		{"recorded", `{"action_verb":"create","http_code":201,"client_details":{"peers":["p1"]}}`, "", 202, `{"message":"ok"}`, "client", ""},
		{"bad JSON", `{"action_verb":`, "", 400, `{"error":"body: invalid JSON`, "http", ""},
		{"bad http_code", `{"action_verb":"create","http_code":700}`, "", 400, `{"error":"http_code: 700`, "http", ""},
		{"rate limited", `{"action_verb":"create","http_code":200}`, "", 429, `{"error":"too many client events from 127.0.0.1`, "http", "2"},
		{"other client address", `{"action_verb":"create","http_code":200}`, "198.51.100.7", 202, `{"message":"ok"}`, "client", ""},
	}
	ids := map[string]string{} // case name -> request id
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := []string{"Authorization", "Bearer abc"}
			if tc.xff != "" {
				header = append(header, "X-Forwarded-For", tc.xff)
			}
			resp := sidecartest.Response(t, "POST", url, tc.body, header...)
			body := telReadAll(t, resp)
			if resp.StatusCode != tc.wantStatus || !strings.HasPrefix(body, tc.wantBody) {
				t.Errorf("answer %d %s, want %d %s…", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.wantRetryAf {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetryAf)
			}
			if resp.Header.Get("X-Audit-Track") != "" {
				t.Error("X-Audit-Track reached the client")
			}
			ids[tc.name] = resp.Header.Get("X-Request-Id")
		})
	}
	t.Run("GET on the path is forwarded", func(t *testing.T) {
		if status, _, body := sidecartest.Do(t, "GET", url, ""); status != 200 || body != `{"upstream":true}` {
			t.Errorf("GET: %d %s, want the upstream's answer", status, body)
		}
	})
	if n := up.count("POST " + path); n != 0 {
		t.Errorf("%d client event POSTs reached the upstream, want 0", n)
	}
	if n := up.count("GET " + path); n != 1 {
		t.Errorf("GET reached the upstream %d times, want 1", n)
	}
	s.Stop()

	byID := map[string][]sidecartest.Line{}
	for _, e := range s.Lines() {
		byID[e.ID] = append(byID[e.ID], e)
	}
	for _, tc := range tests {
		got := byID[ids[tc.name]]
		if len(got) != 1 || got[0].Type != tc.wantEvent {
			t.Errorf("%s: events with the request's id %s: %v, want one %s event", tc.name, ids[tc.name], got, tc.wantEvent)
			continue
		}
		e := got[0]
		switch tc.wantEvent {
		case "client":
			if e.Action != "console.channels.create" || e.Resource.Type != "channels" || e.Resource.ID != "MyChannel" ||
				e.Creds.Type != "token" || e.Message != "client side event" || e.Address != cmp.Or(tc.xff, "127.0.0.1") {
				t.Errorf("%s: client event %s", tc.name, e.Raw)
			}
		case "http":
			if e.Res.StatusCode != tc.wantStatus || e.Req.Method != "POST" {
				t.Errorf("%s: http event %s, want statusCode %d", tc.name, e.Raw, tc.wantStatus)
			}
		}
	}
	if recorded := byID[ids["recorded"]]; len(recorded) == 1 && (recorded[0].Res.StatusCode != 201 ||
		recorded[0].Outcome != "success" || !strings.Contains(recorded[0].Raw, `"client_details":{"peers":["p1"]}`)) {
		t.Errorf("client event %s: want statusCode 201 from http_code, success, client_details", recorded[0].Raw)
	}
}

// TestClientEventsDisabled: with client_events.enabled false, the path is
// an ordinary route: forwarded and tracked as http.
func TestClientEventsDisabled(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := sidecartest.Config(t, up.URL)
	cfg.ClientEvents.Enabled = false
	s := sidecartest.Start(t, cfg)
	path := "/api/v3/events/channels/c1"
	status, _, body := sidecartest.Do(t, "POST", s.ProxyURL()+path, `{"action_verb":"create","http_code":200}`)
	if status != 200 || body != `{"upstream":true}` || up.count("POST "+path) != 1 {
		t.Errorf("POST: %d %s, upstream saw it %d times: want it forwarded", status, body, up.count("POST "+path))
	}
	s.Stop()
	for _, e := range s.Lines() {
		if e.Type == "client" {
			t.Errorf("client event recorded while disabled: %s", e.Raw)
		}
	}
}

func telReadAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
