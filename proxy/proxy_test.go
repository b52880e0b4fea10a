package proxy_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rules"
)

// TestEvent: one tracked request is exactly one event, carrying the id the
// client and the upstream saw; an untracked request is none.
func TestEvent(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		bodySize    int
		tracked     bool
		wantAction  string
		wantLevel   string
		wantOutcome string
	}{
		{"tracked POST", "POST", "/api/v3/components", 201, 512, true, "console.components.create", "info", "success"},
		{"tracked DELETE by template", "DELETE", "/api/v3/widgets/w1", 200, 17, true, "console.widgets.delete", "info", "success"},
		{"untracked GET", "GET", "/api/v3/components", 200, 100, false, "", "", ""},
		{"status-tracked 403 GET", "GET", "/api/v3/settings/secret", 403, 30, true, "console.settings.read", "error", "failure"},
		{"ignored route POST", "POST", "/api/v1/proxy/x", 200, 5, false, "", "", ""},
		{"empty body", "PUT", "/api/v2/channels/c", 204, 0, true, "console.channels.update", "info", "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seenID, seenBody string
			h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				seenID, seenBody = r.Header.Get("X-Request-Id"), string(b)
				mu.Unlock()
				w.Header().Set("X-Request-Id", "upstream-made-this-up")
				w.WriteHeader(tt.status)
				w.Write([]byte(strings.Repeat("x", tt.bodySize)))
			}), harnessOptions{})

			req, _ := http.NewRequest(tt.method, h.front.URL+tt.path, strings.NewReader(`{"name":"n"}`))
			req.Header.Set("X-Request-Id", "client-chosen-id")
			req.SetBasicAuth("alice", "pw")
			resp, err := h.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || len(body) != tt.bodySize {
				t.Fatalf("got %d with %d bytes, want %d with %d", resp.StatusCode, len(body), tt.status, tt.bodySize)
			}
			clientID := resp.Header.Get("X-Request-Id")
			if !hexID.MatchString(clientID) {
				t.Errorf("client got X-Request-Id %q, want 32 hex digits made by trailcar", clientID)
			}
			mu.Lock()
			if seenID != clientID {
				t.Errorf("upstream saw X-Request-Id %q, client got %q", seenID, clientID)
			}
			if seenBody != `{"name":"n"}` {
				t.Errorf("upstream got body %q", seenBody)
			}
			mu.Unlock()

			events := h.events(1)
			if !tt.tracked {
				if len(events) != 0 {
					t.Fatalf("untracked request made events: %+v", events)
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1: %+v", len(events), events)
			}
			e := events[0]
			checks := []struct {
				what      string
				got, want any
			}{
				{"id", e.ID, clientID},
				{"type", e.Type, event.TypeHTTP},
				{"action", e.Action, tt.wantAction},
				{"level", e.Level, tt.wantLevel},
				{"outcome", e.Outcome, tt.wantOutcome},
				{"creds", e.Creds, event.Creds{Name: "alice", Type: "basic"}},
				{"address", e.Address, "127.0.0.1"},
				{"req", fmt.Sprintf("%+v", e.Req), fmt.Sprintf("%+v", event.Request{Method: tt.method, Path: tt.path, UserAgent: "Go-http-client/1.1"})},
				{"res.statusCode", e.Res.StatusCode, tt.status},
				{"res.bytes", e.Res.Bytes, int64(len(body))},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			if e.DurationMS <= 0 {
				t.Errorf("duration_ms = %v, want > 0", e.DurationMS)
			}
			if e.Details != nil {
				t.Errorf("details = %s, want none", e.Details)
			}
		})
	}
}

// TestAuditHeaders: the upstream's X-Audit-* headers (docs/events.md "What the app can add") never
// reach the client and land in the event.
func TestAuditHeaders(t *testing.T) {
	type want struct {
		tracked       bool
		action, level string
		message       string
		resource      event.Resource
		clientDetails string
		details       map[string]any
		creds         event.Creds
	}
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		headers map[string]string // set as given, not canonicalised
		want    want
	}{
		{"all nine", "GET", "/api/v3/things", 200, map[string]string{
			"X-Audit-Track": "true", "X-Audit-Action": "app.things.peek", "X-Audit-Level": "error",
			"X-Audit-Message": "peeked", "X-Audit-Resource": "channels:My:Channel",
			"X-Audit-Details": `{ "a": 1, "b": [1, 2] }`,
			"X-Audit-User-Id": "u-9", "X-Audit-User-Name": "bob", "X-Audit-Auth-Type": "sso",
		}, want{tracked: true, action: "app.things.peek", level: "error", message: "peeked",
			resource: event.Resource{Type: "channels", ID: "My:Channel"}, clientDetails: `{"a":1,"b":[1,2]}`,
			creds: event.Creds{UUID: "u-9", Name: "bob", Type: "sso"}}},
		{"odd casing", "POST", "/api/v3/things", 201, map[string]string{
			"x-audit-action": "app.things.make", "X-AUDIT-MESSAGE": "made", "x-Audit-Resource": "things",
			"X-Audit-Something-Else": "dropped too",
		}, want{tracked: true, action: "app.things.make", level: "info", message: "made",
			resource: event.Resource{Type: "things"}, creds: event.Creds{Name: "alice", Type: "basic"}}},
		{"invalid details", "POST", "/api/v3/things", 201, map[string]string{"X-Audit-Details": `{"a":`},
			want{tracked: true, action: "console.things.create", level: "info", resource: event.Resource{Type: "things"},
				details: map[string]any{"invalid_audit_details": `{"a":`}, creds: event.Creds{Name: "alice", Type: "basic"}}},
		{"details not an object", "POST", "/api/v3/things", 201, map[string]string{"X-Audit-Details": `[1,2]`},
			want{tracked: true, action: "console.things.create", level: "info", resource: event.Resource{Type: "things"},
				details: map[string]any{"invalid_audit_details": `[1,2]`}, creds: event.Creds{Name: "alice", Type: "basic"}}},
		{"level info on a failure", "POST", "/api/v3/things", 500, map[string]string{"X-Audit-Level": "INFO"},
			want{tracked: true, action: "console.things.create", level: "info", resource: event.Resource{Type: "things"}, creds: event.Creds{Name: "alice", Type: "basic"}}},
		{"track true on an ignored route", "GET", "/api/v3/proxy/x", 200, map[string]string{"X-Audit-Track": "true"},
			want{tracked: true, action: "console.proxy.read", level: "info", resource: event.Resource{Type: "proxy", ID: "x"}, creds: event.Creds{Name: "alice", Type: "basic"}}},
		{"track false on a POST", "POST", "/api/v3/things", 201, map[string]string{"X-Audit-Track": "false"}, want{}},
		{"track false on a 403", "GET", "/api/v3/things", 403, map[string]string{"X-Audit-Track": "FALSE"}, want{}},
	}
	for _, tt := range tests {
		for _, local := range []bool{false, true} {
			name := tt.name + "/proxied"
			if local {
				name = tt.name + "/local handler"
			}
			t.Run(name, func(t *testing.T) {
				answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.headers {
						w.Header()[k] = []string{v}
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, "ok")
				})
				upstream := http.Handler(answer)
				var configure func(*proxy.Options)
				if local {
					upstream = http.NotFoundHandler()
					configure = func(o *proxy.Options) {
						o.Intercept = func(*http.Request) http.Handler { return answer }
					}
				}
				h := newHarness(t, upstream, harnessOptions{configure: configure})
				req, _ := http.NewRequest(tt.method, h.front.URL+tt.path, nil)
				req.SetBasicAuth("alice", "pw")
				resp, err := h.client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				if found := auditHeadersIn(resp.Header); len(found) > 0 {
					t.Errorf("client got audit headers %v", found)
				}
				events := h.events(1)
				if !tt.want.tracked {
					if len(events) != 0 {
						t.Fatalf("got events %+v, want none", events)
					}
					return
				}
				if len(events) != 1 {
					t.Fatalf("got %d events, want 1", len(events))
				}
				e := events[0]
				if e.Action != tt.want.action || e.Level != tt.want.level || e.Message != tt.want.message ||
					e.Resource != tt.want.resource || e.Creds != tt.want.creds {
					t.Errorf("got action %q level %q message %q resource %+v creds %+v\nwant %+v",
						e.Action, e.Level, e.Message, e.Resource, e.Creds, tt.want)
				}
				if string(e.Res.ClientDetails) != tt.want.clientDetails {
					t.Errorf("client_details = %s, want %s", e.Res.ClientDetails, tt.want.clientDetails)
				}
				got := detailsOf(t, e.Details)
				if len(got) != len(tt.want.details) {
					t.Errorf("details = %v, want %v", got, tt.want.details)
				}
				for k, v := range tt.want.details {
					if got[k] != v {
						t.Errorf("details[%q] = %v, want %v", k, got[k], v)
					}
				}
			})
		}
	}
}

// TestInformationalHeaders: X-Audit-* headers on a 1xx answer (103 Early
// Hints) do not reach the client either.
func TestInformationalHeaders(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.Header().Set("X-Audit-Message", "early")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("X-Audit-Message")
		w.Header().Del("Link")
		w.WriteHeader(201)
	}), harnessOptions{})
	var early []http.Header
	req, _ := http.NewRequest("POST", h.front.URL+"/api/v3/things", nil)
	req = req.WithContext(withGot1xx(req.Context(), func(code int, hdr http.Header) {
		early = append(early, hdr)
	}))
	resp, err := h.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(early) != 1 {
		t.Fatalf("got %d informational answers, want 1", len(early))
	}
	if early[0].Get("Link") == "" {
		t.Errorf("103 lost its Link header: %v", early[0])
	}
	if found := auditHeadersIn(early[0]); len(found) > 0 {
		t.Errorf("103 carried audit headers %v", found)
	}
	if n := len(h.events(1)); n != 1 {
		t.Errorf("got %d events, want 1", n)
	}
}

// TestForwardedFor: X-Forwarded-For reaches the upstream, a trusted peer's
// chain is kept, and an untrusted peer cannot choose its address.
func TestForwardedFor(t *testing.T) {
	tests := []struct {
		name         string
		trustLoop    bool
		clientXFF    string
		wantUpstream string
		wantAddress  string
	}{
		{"trusted peer keeps the chain", true, "203.0.113.7", "203.0.113.7, 127.0.0.1", "203.0.113.7"},
		{"trusted peer, longer chain", true, "198.51.100.1, 203.0.113.7", "198.51.100.1, 203.0.113.7, 127.0.0.1", "203.0.113.7"},
		{"trusted peer without xff", true, "", "127.0.0.1", "127.0.0.1"},
		{"untrusted peer's xff dropped", false, "203.0.113.7", "127.0.0.1", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen http.Header
			h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = r.Header.Clone()
				mu.Unlock()
			}), harnessOptions{configure: func(o *proxy.Options) {
				if !tt.trustLoop {
					o.Trusted = identityNone
				}
			}})
			req, _ := http.NewRequest("POST", h.front.URL+"/api/v3/things", nil)
			if tt.clientXFF != "" {
				req.Header.Set("X-Forwarded-For", tt.clientXFF)
			}
			resp, err := h.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			events := h.events(1)
			mu.Lock()
			defer mu.Unlock()
			if got := strings.Join(seen["X-Forwarded-For"], ", "); got != tt.wantUpstream {
				t.Errorf("upstream saw X-Forwarded-For %q, want %q", got, tt.wantUpstream)
			}
			if seen.Get("X-Forwarded-Proto") != "http" || seen.Get("X-Forwarded-Host") == "" {
				t.Errorf("upstream saw X-Forwarded-Proto %q, -Host %q", seen.Get("X-Forwarded-Proto"), seen.Get("X-Forwarded-Host"))
			}
			if len(events) != 1 || events[0].Address != tt.wantAddress {
				t.Fatalf("events %+v, want one with address %s", events, tt.wantAddress)
			}
		})
	}
}

// TestNewRequiresOptions: a proxy missing what it needs is refused.
func TestNewRequiresOptions(t *testing.T) {
	r := compileRules(t, rules.DefaultPolicy())
	if _, err := proxy.New(proxy.Options{Rules: r}); err == nil {
		t.Fatal("New without Upstream, Sink and Metrics succeeded")
	}
}

// TestEncodingPassesThrough: the app is asked for exactly the encodings the
// client accepts, and its answer reaches the client as it was sent: a
// client that asked for none gets the app's plain answer with its
// Content-Length (the transport does not ask for gzip on its own and unpack
// it), and one that asked for gzip gets the app's gzip bytes untouched.
func TestEncodingPassesThrough(t *testing.T) {
	const plain = `{"items":["a","b","c"]}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(plain))
	zw.Close()
	var mu sync.Mutex
	var asked []string
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae := r.Header.Get("Accept-Encoding")
		mu.Lock()
		asked = append(asked, ae)
		mu.Unlock()
		if strings.Contains(ae, "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
			w.Write(gz.Bytes())
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(plain)))
		w.Write([]byte(plain))
	}), harnessOptions{})
	addr := strings.TrimPrefix(h.front.URL, "http://")

	resp := rawRequest(t, addr, "GET /api/v3/items HTTP/1.1\r\nHost: console\r\n\r\n")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != plain || resp.ContentLength != int64(len(plain)) || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("no Accept-Encoding: got %q, Content-Length %d, Content-Encoding %q; want the app's plain answer with its length",
			body, resp.ContentLength, resp.Header.Get("Content-Encoding"))
	}

	resp = rawRequest(t, addr, "GET /api/v3/items HTTP/1.1\r\nHost: console\r\nAccept-Encoding: gzip\r\n\r\n")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, gz.Bytes()) || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Accept-Encoding gzip: got %d bytes, Content-Encoding %q; want the app's %d gzip bytes", len(body), resp.Header.Get("Content-Encoding"), gz.Len())
	}

	h.events(2)
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0] != "" || asked[1] != "gzip" {
		t.Errorf("the app was asked Accept-Encoding %q, want [\"\" \"gzip\"]", asked)
	}
}
