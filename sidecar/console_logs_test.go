package sidecar_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// TestConsoleLogs: with console_logs, the logs page and files are served
// on the proxy port, where the console's users look for them, each read
// authorized first by the app through auth_path (200 for one session, 403
// for another, 502 when the app is down), each read audited with the
// caller's creds; the authorization request carries only Authorization,
// Cookie and X-API-Key.
func TestConsoleLogs(t *testing.T) {
	var mu sync.Mutex
	var authHeaders []http.Header
	app := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/can-read-logs" {
			w.Write([]byte("app page"))
			return
		}
		mu.Lock()
		authHeaders = append(authHeaders, r.Header.Clone())
		mu.Unlock()
		if r.ContentLength > 0 || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if c, _ := r.Cookie("session"); c != nil && c.Value == "good" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"not an admin"}`))
	}))
	cfg := sidecartest.Config(t, app.URL)
	cfg.ConsoleLogs.Enabled, cfg.ConsoleLogs.AuthPath = true, "/auth/can-read-logs"
	s := sidecartest.Start(t, cfg)
	sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", "{}") // something in the log
	s.WaitLine("the POST's event", func(l sidecartest.Line) bool { return l.Req.Path == "/api/v3/widgets" })

	good := []string{"Cookie", "session=good", "X-Api-Key", "k1", "X-Other", "not forwarded", "Accept", "text/html"}
	bad := []string{"Cookie", "session=bad"}
	tests := []struct {
		name   string
		path   string
		header []string
		status int
		body   string
	}{
		{"page, allowed", "/api/v3/logs", good, 200, "audit.log"},
		{"file, allowed", "/api/v1/logs/audit.log", good, 200, `"/api/v3/widgets"`},
		{"page, refused", "/api/v3/logs", bad, 403, `{"error":"not an admin"}`},
		{"file, refused", "/api/v2/logs/audit.log?tail=5", bad, 403, `{"error":"not an admin"}`},
		{"not a logs route: forwarded", "/api/v3/logsx", bad, 200, "app page"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := sidecartest.Do(t, "GET", s.ProxyURL()+tc.path, "", tc.header...)
			if code != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("GET %s: %d %.200s, want %d with %q", tc.path, code, body, tc.status, tc.body)
			}
		})
	}
	mu.Lock()
	for _, h := range authHeaders {
		for name := range h {
			if name != "Cookie" && name != "X-Api-Key" && name != "Authorization" {
				t.Errorf("the authorization request carried %s: %v", name, h)
			}
		}
	}
	if len(authHeaders) != 4 {
		t.Errorf("%d authorization requests for 4 logs reads", len(authHeaders))
	}
	mu.Unlock()
	reads := 0
	for _, l := range s.Events() {
		if l.Action == sidecar.ActionLogsRead {
			reads++
			if l.Creds.Type != "apikey" && l.Creds.Type != "user" {
				t.Errorf("read audited without the caller's creds: %s", l.Raw)
			}
		}
	}
	s.WaitLine("the refused page read", func(l sidecartest.Line) bool {
		return l.Action == sidecar.ActionLogsRead && l.Res.StatusCode == 403 && l.Req.Path == "/api/v3/logs"
	})

	t.Run("app down", func(t *testing.T) {
		cfg := sidecartest.Config(t, "http://"+sidecartest.DeadAddr(t))
		cfg.ConsoleLogs.Enabled, cfg.ConsoleLogs.AuthPath = true, "/auth/can-read-logs"
		down := sidecartest.Start(t, cfg)
		code, _, body := sidecartest.Do(t, "GET", down.ProxyURL()+"/api/v3/logs", "", good...)
		if code != http.StatusBadGateway {
			t.Fatalf("%d %s, want 502", code, body)
		}
		down.WaitLine("the 502 read", func(l sidecartest.Line) bool {
			return l.Action == sidecar.ActionLogsRead && l.Res.StatusCode == 502
		})
	})
}
