package sidecar_test

// Tests of the events routes (docs/admin-api.md "Events API") against a real sidecar: requests
// through its proxy port make the events, the admin port serves them.
// Helpers here start with "ev".

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

type evSidecar struct {
	*sidecartest.Sidecar
	token string
}

// evStart runs a sidecar in front of an upstream answering the status in
// the path's last segment (/x/404 → 404), with a token.
func evStart(t *testing.T, configure func(*sidecar.Config)) *evSidecar {
	t.Helper()
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := 200
		fmt.Sscanf(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], "%d", &status)
		w.WriteHeader(status)
	}))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "s3cret")
	cfg.ActivityTracker.MaxSizeMB = 1
	cfg.ActivityTracker.MaxFiles = 5
	if configure != nil {
		configure(&cfg)
	}
	return &evSidecar{Sidecar: sidecartest.Start(t, cfg), token: "s3cret"}
}

func (s *evSidecar) stop(t *testing.T) {
	if err := s.Stop(); err != nil {
		t.Error(err)
	}
}

// proxy sends n POSTs through the proxy port (each becomes an event).
func (s *evSidecar) proxy(t *testing.T, path string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		resp, err := http.Post(s.ProxyURL()+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// admin calls the admin port with the token and decodes a JSON answer.
func (s *evSidecar) admin(t *testing.T, method, path string, into any) int {
	t.Helper()
	return s.adminAs(t, s.token, method, path, into)
}

func (s *evSidecar) adminAs(t *testing.T, token, method, path string, into any) int {
	t.Helper()
	req, _ := http.NewRequest(method, s.AdminURL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("%s %s: %d %v: %s", method, path, resp.StatusCode, err, body)
		}
	}
	return resp.StatusCode
}

type evPage struct {
	Results    []event.Event `json:"results"`
	NextCursor *string       `json:"next_cursor"`
	ItemCount  int           `json:"item_count"`
}

// evWaitCount waits until the filter matches n events.
func (s *evSidecar) waitCount(t *testing.T, query string, n int) []event.Event {
	t.Helper()
	for i := 0; ; i++ {
		var p evPage
		if code := s.admin(t, "GET", "/api/v3/events?limit=1000&"+query, &p); code != 200 {
			t.Fatalf("list: %d", code)
		}
		if len(p.Results) == n {
			return p.Results
		}
		if i > 300 {
			t.Fatalf("%q: %d events, want %d", query, len(p.Results), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventsListPagesWithFilters(t *testing.T) {
	s := evStart(t, nil)
	s.proxy(t, "/api/v3/widgets/201", 30)
	s.proxy(t, "/api/v3/widgets/500", 7)
	errs := s.waitCount(t, "level=error&action=console.widgets.*", 7)
	for _, e := range errs {
		if e.Res.StatusCode != 500 {
			t.Fatalf("level=error gave %+v", e)
		}
	}
	// Page through the successes, 4 at a time, newest first.
	var seen []event.Event
	cursor := ""
	for pages := 0; ; pages++ {
		var p evPage
		code := s.admin(t, "GET", "/api/v3/events?status=2xx&method=post&limit=4"+cursor, &p)
		if code != 200 || p.ItemCount != len(p.Results) {
			t.Fatalf("page %d: status %d, item_count %d for %d results", pages, code, p.ItemCount, len(p.Results))
		}
		seen = append(seen, p.Results...)
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if len(seen) != 30 {
		t.Fatalf("paged %d events, want 30", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Time.After(seen[i-1].Time) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	// The reads are audited as trailcar.events.read, with their filter.
	for i := 0; ; i++ {
		var p evPage
		s.admin(t, "GET", "/api/v3/events?limit=1000&action=trailcar.events.read", &p)
		if len(p.Results) > 0 && strings.Contains(p.Results[len(p.Results)-1].Req.Query, "level=error") {
			break
		}
		if i > 300 {
			t.Fatalf("reads of the events API are not audited: %+v", p.Results)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventsGetAndDelete(t *testing.T) {
	s := evStart(t, nil)
	s.proxy(t, "/api/v3/widgets/201", 5)
	evs := s.waitCount(t, "action=console.widgets.create", 5)
	id := evs[2].ID
	var got event.Event
	if code := s.admin(t, "GET", "/api/v3/events/"+id, &got); code != 200 || got.ID != id || got.Req.Path != "/api/v3/widgets/201" {
		t.Fatalf("get: %d %+v", code, got)
	}
	var deleted map[string]int
	if code := s.admin(t, "DELETE", "/api/v3/events/"+id, &deleted); code != 200 || deleted["deleted"] != 1 {
		t.Fatalf("delete: %d %v", code, deleted)
	}
	var e map[string]string
	if code := s.admin(t, "GET", "/api/v3/events/"+id, &e); code != 404 || e["error"] == "" {
		t.Fatalf("get after delete: %d %v", code, e)
	}
	if code := s.admin(t, "DELETE", "/api/v3/events/"+id, &e); code != 404 {
		t.Fatalf("second delete: %d", code)
	}
	if code := s.admin(t, "DELETE", "/api/v3/events?action=console.widgets.*", &deleted); code != 200 || deleted["deleted"] != 4 {
		t.Fatalf("delete by filter: %d %v", code, deleted)
	}
	s.waitCount(t, "action=console.widgets.*", 0)
	// Each delete is recorded: who, which filter, how many.
	recs := s.waitCount(t, "type=system.events.deleted", 2)
	var d struct {
		By     map[string]string `json:"by"`
		Filter string            `json:"filter"`
		Count  int               `json:"count"`
	}
	if err := json.Unmarshal(recs[0].Details, &d); err != nil {
		t.Fatal(err)
	}
	if d.Filter != "action=console.widgets.%2A" || d.Count != 4 || d.By["address"] != "127.0.0.1" || d.By["type"] != "token" {
		t.Fatalf("system.events.deleted details: %s", recs[0].Details)
	}
	if err := json.Unmarshal(recs[1].Details, &d); err != nil || d.Filter != "id="+id || d.Count != 1 {
		t.Fatalf("system.events.deleted details: %s", recs[1].Details)
	}
}

func TestEventsBadParameters(t *testing.T) {
	s := evStart(t, nil)
	tests := []struct {
		method, path, param string
	}{
		{"GET", "/api/v3/events?since=the+day+before", "since"},
		{"GET", "/api/v3/events?before=2026-11-22T25:00:00", "before"},
		{"GET", "/api/v3/events?since=2026-11-22T09:00:00Z&before=2026-11-22T08:00:00Z", "since"},
		{"GET", "/api/v3/events?limit=0", "limit"},
		{"GET", "/api/v3/events?limit=1001", "limit"},
		{"GET", "/api/v3/events?limit=ten", "limit"},
		{"GET", "/api/v3/events?cursor=bm90IGEgY3Vyc29y", "cursor"},
		{"GET", "/api/v3/events?cursor=%25%25", "cursor"},
		{"GET", "/api/v3/events?type=system.%5B", "type"},
		{"GET", "/api/v3/events?action=%7Ba", "action"},
		{"GET", "/api/v3/events?status=6xx", "status"},
		{"GET", "/api/v3/events?level=warn", "level"},
		{"GET", "/api/v3/events/not-an-id", "id"},
		{"DELETE", "/api/v3/events/0193", "id"},
		{"DELETE", "/api/v3/events", "all"},
		{"DELETE", "/api/v3/events?all=yes", "all"},
		{"DELETE", "/api/v3/events?outcome=maybe", "outcome"},
		{"GET", "/api/v3/events/stream?resource=%5B", "resource"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var e map[string]string
			if code := s.admin(t, tt.method, tt.path, &e); code != 400 || !strings.HasPrefix(e["error"], tt.param+": ") {
				t.Fatalf("status %d, error %q; want 400 naming %s", code, e["error"], tt.param)
			}
		})
	}
}

func TestEventsNeedTheToken(t *testing.T) {
	s := evStart(t, nil)
	routes := []struct{ method, path string }{
		{"GET", "/api/v3/events"},
		{"GET", "/api/v3/events/stream"},
		{"GET", "/api/v3/events/0193a0b1c2d37e4f8a9b0c1d2e3f4a5b"},
		{"DELETE", "/api/v3/events/0193a0b1c2d37e4f8a9b0c1d2e3f4a5b"},
		{"DELETE", "/api/v3/events?all=true"},
	}
	for _, r := range routes {
		for _, token := range []string{"", "wrong", "s3cre", "s3cret-and-more"} {
			t.Run(r.method+" "+r.path+" "+token, func(t *testing.T) {
				var e map[string]string
				if code := s.adminAs(t, token, r.method, r.path, &e); code != 401 || e["error"] == "" {
					t.Fatalf("status %d %v, want 401", code, e)
				}
			})
		}
	}
}

func TestEventsDeleteForbidden(t *testing.T) {
	s := evStart(t, func(c *sidecar.Config) { c.Admin.AllowDelete = false })
	for _, path := range []string{"/api/v3/events/0193a0b1c2d37e4f8a9b0c1d2e3f4a5b", "/api/v3/events?all=true", "/api/v3/events?level=error"} {
		var e map[string]string
		if code := s.admin(t, "DELETE", path, &e); code != 403 || e["error"] == "" {
			t.Fatalf("DELETE %s: %d %v, want 403", path, code, e)
		}
	}
}

func TestEventsOtherMethods(t *testing.T) {
	s := evStart(t, nil)
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v3/events"}, {"PUT", "/api/v3/events/0193a0b1c2d37e4f8a9b0c1d2e3f4a5b"}, {"POST", "/api/v3/events/stream"},
	} {
		var e map[string]string
		if code := s.admin(t, r.method, r.path, &e); code != 405 || e["error"] == "" {
			t.Fatalf("%s %s: %d %v, want 405", r.method, r.path, code, e)
		}
	}
}

// TestEventsStreamThroughTheSidecar: the stream shows new matching events
// as requests pass the proxy, and ends at shutdown.
func TestEventsStreamThroughTheSidecar(t *testing.T) {
	s := evStart(t, nil)
	req, _ := http.NewRequest("GET", s.AdminURL()+"/api/v3/events/stream?status=4xx", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s.proxy(t, "/api/v3/widgets/201", 3)
	s.proxy(t, "/api/v3/widgets/404", 1)
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("%q, %v", line, err)
	}
	var e event.Event
	if err := event.Decode([]byte(strings.TrimPrefix(strings.TrimSpace(line), "data: ")), &e); err != nil || e.Res.StatusCode != 404 {
		t.Fatalf("streamed %+v, %v", e, err)
	}
	s.stop(t)
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("stream did not end cleanly at shutdown: %v", err)
	}
}
