package demoapp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/cmd/trailcar/internal/demoapp"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/sidecar"
)

// route is one request of the demo, in the order the page lists them, with
// what the app answers and whether trailcar's defaults track it.
type route struct {
	name, method, path, body, contentType string
	status                                int
	tracked                               bool
	action                                string
}

var routes = []route{
	{"create", "POST", "/api/v3/components", `{"name":"peer-org2"}`, "application/json", 201, true, "console.components.create"},
	{"list", "GET", "/api/v3/components", "", "", 200, false, ""},
	{"forbidden", "GET", "/api/v3/settings/secret", "", "", 403, true, "console.settings.read"},
	{"broken", "GET", "/api/v3/broken", "", "", 500, false, ""},
	{"delete", "DELETE", "/api/v3/components/c1", "", "", 200, true, "console.components.delete"},
	{"delete missing", "DELETE", "/api/v3/components/c1", "", "", 404, true, "console.components.delete"},
	{"login", "POST", "/auth/login", "user=alice", "application/x-www-form-urlencoded", 200, true, "console.users.login"},
	{"login without user", "POST", "/auth/login", "", "application/x-www-form-urlencoded", 401, true, "console.users.login"},
	{"bad create", "POST", "/api/v3/components", `{}`, "application/json", 400, true, "console.components.create"},
	{"status", "GET", "/api/v3/components/status", "", "", 200, false, ""},
	{"index", "GET", "/", "", "", 200, false, ""},
}

func do(t *testing.T, base string, r route) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestApp: the app alone answers as its page says, stating audit details
// in X-Audit-* headers.
func TestApp(t *testing.T) {
	app := httptest.NewServer(demoapp.New().Handler())
	defer app.Close()
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			resp := do(t, app.URL, r)
			if resp.StatusCode != r.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, r.status)
			}
			switch r.name {
			case "create":
				h := resp.Header
				if h.Get("X-Audit-Resource") != "components:c3" || !json.Valid([]byte(h.Get("X-Audit-Details"))) ||
					!strings.Contains(h.Get("X-Audit-Message"), "peer-org2") {
					t.Errorf("audit headers %v", h)
				}
			case "delete":
				if resp.Header.Get("X-Audit-Action") != "console.components.delete" {
					t.Errorf("audit headers %v", resp.Header)
				}
			case "login":
				if resp.Header.Get("X-Audit-User-Name") != "alice" || len(resp.Cookies()) != 1 {
					t.Errorf("headers %v", resp.Header)
				}
			case "index":
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), "curl -X POST http://") {
					t.Errorf("page %s", b)
				}
			}
		})
	}
	t.Run("ticks", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", app.URL+"/api/v3/ticks", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "data: {\"tick\":0}\n" || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("first line %q, %v, %v", line, err, resp.Header)
		}
	})
}

// TestBehindTrailcar: the demo's requests through a sidecar with the
// default config give the events the demo promises, with the audit headers
// taken off.
func TestBehindTrailcar(t *testing.T) {
	app := httptest.NewServer(demoapp.New().Handler())
	defer app.Close()
	cfg := sidecar.DefaultConfig()
	cfg.Listen, cfg.Admin.Listen, cfg.Upstream = "127.0.0.1:0", "127.0.0.1:0", app.URL
	cfg.ActivityTracker.Dir = filepath.Join(t.TempDir(), "logs")
	sc, err := sidecar.New(cfg, sidecar.Options{Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()

	want := map[string]route{} // request id -> route
	for _, r := range routes {
		resp := do(t, sc.ProxyURL(), r)
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != r.status {
			t.Errorf("%s: status %d, want %d", r.name, resp.StatusCode, r.status)
		}
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-audit-") {
				t.Errorf("%s: client got %s", r.name, k)
			}
		}
		want[resp.Header.Get("X-Request-Id")] = r
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(sc.AuditPath())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]event.Event{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e event.Event
		if err := event.Decode(line, &e); err != nil {
			t.Fatal(err)
		}
		got[e.ID] = e
	}
	for id, r := range want {
		e, ok := got[id]
		if ok != r.tracked {
			t.Errorf("%s: tracked %v, want %v", r.name, ok, r.tracked)
			continue
		}
		if !ok {
			continue
		}
		if e.Action != r.action || e.Res.StatusCode != r.status {
			t.Errorf("%s: action %q status %d, want %q %d", r.name, e.Action, e.Res.StatusCode, r.action, r.status)
		}
		switch r.name {
		case "create":
			if e.Resource != (event.Resource{Type: "components", ID: "c3"}) || len(e.Res.ClientDetails) == 0 {
				t.Errorf("create: %+v", e)
			}
		case "login":
			if e.Creds.Name != "alice" || e.Creds.Type != "user" {
				t.Errorf("login creds %+v", e.Creds)
			}
		}
	}
}
