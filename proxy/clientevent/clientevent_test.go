package clientevent_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy/clientevent"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// server is a real HTTP server standing in for the proxy: intercepted
// requests go to the handler, the rest answer 299 "forwarded".
type server struct {
	*httptest.Server
	sink  *sidecartest.Sink
	clock *clock
}

func newServer(t *testing.T, opts clientevent.Options) *server {
	t.Helper()
	s := &server{sink: sidecartest.NewSink(t), clock: &clock{now: t0}}
	trusted, err := identity.ParseTrusted([]string{"loopback"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Path == "" {
		opts.Path = "/api/v[123]/events/*/*"
	}
	if opts.Rate == 0 {
		opts.Rate, opts.Burst = 20, 40
	}
	opts.Service, opts.Sink, opts.Trusted, opts.Now = "console", s.sink, trusted, s.clock.Now
	opts.RequestIDHeader = "X-Request-Id"
	opts.Logger = slog.New(slog.DiscardHandler)
	h, err := clientevent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ih := h.Intercept(r); ih != nil {
			ih.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(299)
		io.WriteString(w, "forwarded")
	}))
	t.Cleanup(s.Close)
	return s
}

// post sends body to path with the given headers (name, value pairs).
func (s *server) post(t *testing.T, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestClientEventRecorded(t *testing.T) {
	const id = "019a4b1c2d3e7f00812345678901abcd"
	tests := []struct {
		name    string
		path    string
		body    string
		header  []string
		want    event.Event
		details string
	}{
		{
			name:   "success",
			path:   "/api/v3/events/channels/MyChannel",
			body:   `{"action_verb":"create","http_code":200,"client_details":{ "name" : "MyChannel", "n": [1, 2] }}`,
			header: []string{"Authorization", "Basic " + basic("alice", "pw"), "X-Request-Id", id},
			want: event.Event{
				ID: id, Type: event.TypeClient, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
				Action: "console.channels.create", Creds: event.Creds{Name: "alice", Type: identity.TypeBasic},
				Address: "127.0.0.1", Req: event.Request{Method: "POST", Path: "/api/v3/events/channels/MyChannel", UserAgent: "Go-http-client/1.1"},
				Res: event.Response{StatusCode: 200}, Message: clientevent.Message,
				Resource: event.Resource{Type: "channels", ID: "MyChannel"},
			},
			details: `{"name":"MyChannel","n":[1,2]}`,
		},
		{
			name:   "failure is level error; client address from a trusted proxy's X-Forwarded-For",
			path:   "/api/v1/events/peers/p%2F1",
			body:   `{"action_verb":"delete_all","http_code":503,"extra":"ignored"}`,
			header: []string{"X-Forwarded-For", "203.0.113.9"},
			want: event.Event{
				Type: event.TypeClient, Level: event.LevelError, Outcome: event.OutcomeFailure,
				Action: "console.peers.delete_all", Creds: event.Creds{Type: identity.TypePublicAccess},
				Address: "203.0.113.9", Req: event.Request{Method: "POST", Path: "/api/v1/events/peers/p/1", UserAgent: "Go-http-client/1.1"},
				Res: event.Response{StatusCode: 503}, Message: clientevent.Message,
				Resource: event.Resource{Type: "peers", ID: "p/1"},
			},
		},
		{
			name:   "unclean path matched cleaned; a bad request id is not used",
			path:   "/api/v2/events//nodes/n1/",
			body:   `{"action_verb":"x-1","http_code":302,"client_details":null}`,
			header: []string{"X-Request-Id", "not-an-id"},
			want: event.Event{
				Type: event.TypeClient, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
				Action: "console.nodes.x-1", Creds: event.Creds{Type: identity.TypePublicAccess},
				Address: "127.0.0.1", Req: event.Request{Method: "POST", Path: "/api/v2/events//nodes/n1/", UserAgent: "Go-http-client/1.1"},
				Res: event.Response{StatusCode: 302}, Message: clientevent.Message,
				Resource: event.Resource{Type: "nodes", ID: "n1"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, clientevent.Options{})
			resp, body := s.post(t, tc.path, tc.body, tc.header...)
			if resp.StatusCode != http.StatusAccepted || strings.TrimSpace(body) != `{"message":"ok"}` {
				t.Fatalf("answer %d %s, want 202 {\"message\":\"ok\"}", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Audit-Track"); got != "false" {
				t.Errorf("X-Audit-Track = %q, want false (the proxy must not record the request again)", got)
			}
			events := s.sink.Events()
			if len(events) != 1 {
				t.Fatalf("%d events recorded, want 1", len(events))
			}
			got := events[0]
			if string(got.Res.ClientDetails) != tc.details {
				t.Errorf("client_details = %s, want %s", got.Res.ClientDetails, tc.details)
			}
			got.Res.ClientDetails = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("event\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestClientEventRefused(t *testing.T) {
	big := `{"action_verb":"create","http_code":200,"client_details":{"x":"` + strings.Repeat("a", clientevent.MaxBody) + `"}}`
	tests := []struct {
		name, body, wantError string
	}{
		{"not JSON", `{"action_verb":`, "body: invalid JSON"},
		{"not an object", `[1,2]`, "body: want a JSON object"},
		{"empty", ``, "body: want a JSON object, got nothing"},
		{"trailing data", `{"action_verb":"create","http_code":200} {}`, "body: invalid JSON"},
		{"too large", big, "body: larger than 65536 bytes"},
		{"action_verb missing", `{"http_code":200}`, "action_verb: required"},
		{"action_verb not a string", `{"action_verb":7,"http_code":200}`, "action_verb: want a string"},
		{"action_verb upper case", `{"action_verb":"Create","http_code":200}`, `action_verb: "Create"`},
		{"action_verb with a dot", `{"action_verb":"a.b","http_code":200}`, `action_verb: "a.b"`},
		{"action_verb empty", `{"action_verb":"","http_code":200}`, `action_verb: ""`},
		{"action_verb too long", `{"action_verb":"` + strings.Repeat("a", 65) + `","http_code":200}`, "action_verb: "},
		{"http_code missing", `{"action_verb":"create"}`, "http_code: required"},
		{"http_code too small", `{"action_verb":"create","http_code":99}`, "http_code: 99: want"},
		{"http_code too large", `{"action_verb":"create","http_code":600}`, "http_code: 600: want"},
		{"http_code a string", `{"action_verb":"create","http_code":"200"}`, `http_code: "200": want`},
		{"http_code a fraction", `{"action_verb":"create","http_code":200.5}`, "http_code: 200.5: want"},
		{"client_details an array", `{"action_verb":"create","http_code":200,"client_details":[]}`, "client_details: want a JSON object"},
		{"client_details a string", `{"action_verb":"create","http_code":200,"client_details":"x"}`, "client_details: want a JSON object"},
	}
	s := newServer(t, clientevent.Options{Rate: 1000, Burst: 1000})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.post(t, "/api/v3/events/channels/c1", tc.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", resp.StatusCode, body)
			}
			var answer struct{ Error string }
			if err := json.Unmarshal([]byte(body), &answer); err != nil {
				t.Fatalf("answer %q is not JSON: %v", body, err)
			}
			if !strings.HasPrefix(answer.Error, tc.wantError) {
				t.Errorf("error %q, want it to start with %q", answer.Error, tc.wantError)
			}
			if resp.Header.Get("X-Audit-Track") != "" {
				t.Error("a refusal said X-Audit-Track; it must be audited as an ordinary request")
			}
		})
	}
	if n := len(s.sink.Events()); n != 0 {
		t.Errorf("%d events recorded from refused bodies, want 0", n)
	}
}

func TestClientEventNotIntercepted(t *testing.T) {
	tests := []struct{ name, method, path string }{
		{"GET on the path", http.MethodGet, "/api/v3/events/channels/c1"},
		{"PUT on the path", http.MethodPut, "/api/v3/events/channels/c1"},
		{"too few segments", http.MethodPost, "/api/v3/events/channels"},
		{"too many segments", http.MethodPost, "/api/v3/events/channels/c1/x"},
		{"other version", http.MethodPost, "/api/v4/events/channels/c1"},
		{"other route", http.MethodPost, "/api/v3/components"},
		{"dot-dot out of the path", http.MethodPost, "/api/v3/events/../components/c1"},
	}
	s := newServer(t, clientevent.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.URL, strings.NewReader(`{"action_verb":"create","http_code":200}`))
			req.URL.Opaque = tc.path // sent as is, not cleaned by the client
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 299 {
				t.Errorf("status %d, want 299 (forwarded)", resp.StatusCode)
			}
		})
	}
	if n := len(s.sink.Events()); n != 0 {
		t.Errorf("%d events recorded, want 0", n)
	}
}

func TestClientEventRateLimited(t *testing.T) {
	s := newServer(t, clientevent.Options{Rate: 0.5, Burst: 2})
	ok := `{"action_verb":"create","http_code":200}`
	send := func(xff string) (*http.Response, string) {
		return s.post(t, "/api/v3/events/channels/c1", ok, "X-Forwarded-For", xff)
	}
	for i := range 2 {
		if resp, body := send("198.51.100.1"); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event %d of the burst: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := send("198.51.100.1")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("3rd event at once: %d %s, want 429", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (one token at 0.5/s)", got)
	}
	if !strings.Contains(body, `"error":"too many client events from 198.51.100.1`) {
		t.Errorf("429 body %s", body)
	}
	if resp, body := send("198.51.100.2"); resp.StatusCode != http.StatusAccepted {
		t.Errorf("another client address: %d %s, want 202", resp.StatusCode, body)
	}
	s.clock.Add(2 * time.Second)
	if resp, body := send("198.51.100.1"); resp.StatusCode != http.StatusAccepted {
		t.Errorf("after Retry-After: %d %s, want 202", resp.StatusCode, body)
	}
	if n := len(s.sink.Events()); n != 4 {
		t.Errorf("%d events recorded, want 4 (the refused one is not)", n)
	}
}

func TestClientEventSinkFails(t *testing.T) {
	s := newServer(t, clientevent.Options{})
	s.sink.Fail(errors.New("audit queue full: event dropped"))
	resp, body := s.post(t, "/api/v3/events/channels/c1", `{"action_verb":"create","http_code":200}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "audit queue full") {
		t.Errorf("answer %d %s, want 503 saying why", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Audit-Track") != "" {
		t.Error("an unrecorded client event said X-Audit-Track: false")
	}
}

func TestNewRejects(t *testing.T) {
	good := clientevent.Options{Path: "/e/*/*", Service: "s", Rate: 1, Burst: 1, Sink: sidecartest.NewSink(t)}
	tests := []struct {
		name   string
		modify func(*clientevent.Options)
	}{
		{"no sink", func(o *clientevent.Options) { o.Sink = nil }},
		{"no service", func(o *clientevent.Options) { o.Service = "" }},
		{"zero rate", func(o *clientevent.Options) { o.Rate = 0 }},
		{"zero burst", func(o *clientevent.Options) { o.Burst = 0 }},
		{"relative path", func(o *clientevent.Options) { o.Path = "e/*/*" }},
		{"bad glob", func(o *clientevent.Options) { o.Path = "/e/[" }},
	}
	if _, err := clientevent.New(good); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := good
			tc.modify(&opts)
			if _, err := clientevent.New(opts); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestInterceptMissAllocatesNothing(t *testing.T) {
	if sidecartest.RaceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random (the glob matcher pools its buffers), so a miss sometimes allocates")
	}
	h, err := clientevent.New(clientevent.Options{Path: "/api/v[123]/events/*/*", Service: "s", Rate: 1, Burst: 1, Sink: sidecartest.NewSink(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/api/v3/events/channels/c1", nil),
		httptest.NewRequest(http.MethodPost, "/api/v3/components/c1", nil),
		httptest.NewRequest(http.MethodPost, "/api/v3/events/channels/c1/x", nil),
	} {
		if n := testing.AllocsPerRun(100, func() { h.Intercept(r) }); n != 0 {
			t.Errorf("%s %s: %v allocations per call, want 0", r.Method, r.URL.Path, n)
		}
	}
}

func BenchmarkIntercept(b *testing.B) {
	h, err := clientevent.New(clientevent.Options{Path: "/api/v[123]/events/*/*", Service: "s", Rate: 1, Burst: 1, Sink: sidecartest.NewSink(b)})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/api/v3/events/channels/c1", nil),
		httptest.NewRequest(http.MethodPost, "/api/v3/components/c1", nil),
		httptest.NewRequest(http.MethodPost, "/api/v3/events/channels/c1", nil),
	} {
		b.Run(r.Method+r.URL.Path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.Intercept(r)
			}
		})
	}
}

func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
