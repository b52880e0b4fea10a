package sidecar_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// TestAdminRefusesForeignHosts: a Host that is neither an IP, localhost,
// the listen host nor in allowed_hosts gets 421 (DNS rebinding cannot
// reach the trail), audited, counted; nothing is deleted.
func TestAdminRefusesForeignHosts(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg := sidecartest.Config(t, up.URL)
	cfg.Admin.AllowedHosts = []string{"trailcar.console.svc"}
	s := sidecartest.Start(t, cfg)
	sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", "{}")
	admin := s.AdminURL()
	tests := []struct {
		host   string
		path   string
		method string
		want   int
	}{
		{"attacker.example", "/api/v3/events?all=true", "DELETE", http.StatusMisdirectedRequest},
		{"attacker.example:9090", "/api/v3/events", "GET", http.StatusMisdirectedRequest},
		{"attacker.example", "/metrics", "GET", http.StatusMisdirectedRequest},
		{"localhost:9090", "/api/v3/events", "GET", http.StatusOK},
		{"TRAILCAR.console.svc", "/api/v3/events", "GET", http.StatusOK},
		{"127.0.0.1", "/healthz", "GET", http.StatusOK},
		{"[::1]:9090", "/api/v3/events", "GET", http.StatusOK},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, admin+tc.path, nil)
		req.Host = tc.host
		resp, err := sidecartest.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s with Host %s: %d, want %d", tc.method, tc.path, tc.host, resp.StatusCode, tc.want)
		}
	}
	s.WaitLine("the refused delete's event", func(l sidecartest.Line) bool {
		return l.Action == sidecar.ActionEventsDelete && l.Res.StatusCode == http.StatusMisdirectedRequest
	})
	if got := sidecartest.Counters(t, s.Reg, "trailcar_admin_refused_total")["reason=host"]; got != 3 {
		t.Errorf("admin_refused_total{host} = %v, want 3", got)
	}
	if n := len(sidecartest.OfType(s.Lines(), "system.events.deleted")); n != 0 {
		t.Errorf("%d deletes went through", n)
	}
}

// TestDeleteNeedsTheDeleteToken: with delete_token_file set, the read
// token reads but does not delete (403); the delete token deletes.
func TestDeleteNeedsTheDeleteToken(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "reader")
	del := filepath.Join(t.TempDir(), "delete-token")
	os.WriteFile(del, []byte("eraser\n"), 0o600)
	cfg.Admin.DeleteTokenFile = del
	s := sidecartest.Start(t, cfg)
	sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", "{}")
	url := s.AdminURL() + "/api/v3/events?method=POST"
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"reader", 403}, {"wrong", 401}, {"eraser", 200}} {
		header := []string{}
		if tc.token != "" {
			header = []string{"Authorization", "Bearer " + tc.token}
		}
		if code, _, body := sidecartest.Do(t, "DELETE", url, "", header...); code != tc.want {
			t.Errorf("delete with %q: %d %s, want %d", tc.token, code, body, tc.want)
		}
	}
	if code, _, _ := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events", "", "Authorization", "Bearer reader"); code != 200 {
		t.Errorf("read with the read token: %d", code)
	}
}

// TestStreamsAreCapped: past admin.max_streams, a stream is refused with
// 429 (counted), and a slot frees when a stream ends.
func TestStreamsAreCapped(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg := sidecartest.Config(t, up.URL)
	cfg.Admin.MaxStreams = 2
	s := sidecartest.Start(t, cfg)
	open := func() *http.Response {
		return sidecartest.Response(t, "GET", s.AdminURL()+"/api/v3/events/stream", "")
	}
	a, b := open(), open()
	third := open()
	third.Body.Close()
	if a.StatusCode != 200 || b.StatusCode != 200 || third.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("statuses %d %d %d, want 200 200 429", a.StatusCode, b.StatusCode, third.StatusCode)
	}
	a.Body.Close()
	sidecartest.Eventually(t, "a slot to free", func() bool {
		r := open()
		defer r.Body.Close()
		return r.StatusCode == 200
	})
	b.Body.Close()
	if got := sidecartest.Counters(t, s.Reg, "trailcar_admin_refused_total")["reason=streams"]; got < 1 {
		t.Errorf("admin_refused_total{streams} = %v", got)
	}
}

// TestUnknownAdminPathsAnswerJSON: an unknown path is a JSON 404 like
// every other error of the admin port.
func TestUnknownAdminPathsAnswerJSON(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	s := sidecartest.Start(t, sidecartest.Config(t, up.URL))
	for _, p := range []string{"/nope", "/api/v3/nope", "/api/v2/events", "/ui/", "/ui/nope.js"} {
		code, header, body := sidecartest.Do(t, "GET", s.AdminURL()+p, "")
		if code != 404 || header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s %s", p, code, header.Get("Content-Type"), body)
		}
	}
}
