package webhook_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/webhook"
)

func TestDeliverRequest(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(recv.URL + "/hooks/<notification_type>")
	cfg.Endpoints.EventLog.User = "trail"
	cfg.Endpoints.EventLog.PasswordFile = passwordFile
	cfg.Endpoints.EventLog.Headers = map[string]string{"X-Tenant": "acme"}
	h := newHarness(t, cfg, webhook.Options{})

	ev := line(t, event.TypeHTTP, event.LevelInfo)
	h.Publish(ev)
	h.close(t)

	got := recv.Requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	req := got[0]
	wantBody := `{"notification_type":"event_log","event":` + strings.TrimSuffix(string(ev), "\n") + `}`
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("trail:s3cret"))
	for _, c := range []struct{ what, got, want string }{
		{"method", req.Method, http.MethodPost},
		{"path", req.Path, "/hooks/event_log"},
		{"Content-Type", req.Header.Get("Content-Type"), "application/json"},
		{"Authorization", req.Header.Get("Authorization"), wantAuth},
		{"X-Tenant", req.Header.Get("X-Tenant"), "acme"},
		{"body", string(req.Body), wantBody},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if got := h.count("event_log", "delivered"); got != 1 {
		t.Errorf("delivered = %v, want 1", got)
	}
}

func TestGeneralEndpointWhenEventLogEmpty(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	cfg := config("")
	cfg.Endpoints.General.URL = recv.URL + "/general"
	h := newHarness(t, cfg, webhook.Options{})

	h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	h.close(t)

	if got := recv.Requests(); len(got) != 1 || got[0].Path != "/general" {
		t.Fatalf("receiver got %+v, want one request to /general", got)
	}
	if got := h.count("general", "delivered"); got != 1 {
		t.Errorf("delivered{endpoint=general} = %v, want 1", got)
	}
}

func TestFilters(t *testing.T) {
	published := []struct{ typ, level string }{
		{event.TypeHTTP, event.LevelInfo},
		{event.TypeHTTP, event.LevelError},
		{event.TypeClient, event.LevelError},
		{"system.audit.dropped", event.LevelError},
		{"system.upstream.recovered", event.LevelInfo},
		{event.TypeNotification, event.LevelInfo},
	}
	tests := []struct {
		name   string
		levels []string
		types  []string
		want   []string // type/level received, sorted
	}{
		{"no filter", nil, nil, []string{"client/error", "http/error", "http/info", "notification/info",
			"system.audit.dropped/error", "system.upstream.recovered/info"}},
		{"levels", []string{"error"}, nil, []string{"client/error", "http/error", "system.audit.dropped/error"}},
		{"types", nil, []string{"system.*", "notification"}, []string{"notification/info",
			"system.audit.dropped/error", "system.upstream.recovered/info"}},
		{"types and levels", []string{"error"}, []string{"system.*", "{client,notification}"},
			[]string{"client/error", "system.audit.dropped/error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recv := sidecartest.NewRecorderFunc(t, nil)
			cfg := config(recv.URL)
			cfg.Levels, cfg.Types = tt.levels, tt.types
			h := newHarness(t, cfg, webhook.Options{})
			for _, p := range published {
				h.Publish(line(t, p.typ, p.level))
			}
			h.close(t)
			if got := receivedTypes(t, recv); !slices.Equal(got, tt.want) {
				t.Errorf("received %q, want %q", got, tt.want)
			}
		})
	}
}

// receivedTypes returns "type/level" of each event received, sorted.
func receivedTypes(t *testing.T, recv *sidecartest.Recorder) []string {
	t.Helper()
	var types []string
	for _, req := range recv.Requests() {
		body := bytes.TrimPrefix(req.Body, []byte(`{"notification_type":"event_log","event":`))
		var e event.Event
		if err := event.Decode(bytes.TrimSuffix(body, []byte("}")), &e); err != nil {
			t.Fatalf("body %s: %v", req.Body, err)
		}
		types = append(types, e.Type+"/"+e.Level)
	}
	slices.Sort(types)
	return types
}

// Lines not in AppendJSON's layout are decoded to be filtered; lines that
// are not events are not sent.
func TestFilterDecodesOtherLayouts(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	cfg := config(recv.URL)
	cfg.Levels = []string{"error"}
	cfg.Types = []string{"client"}
	h := newHarness(t, cfg, webhook.Options{})

	const id = `"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z"`
	reordered := `{"level":"error","type":"client",` + id + "}\n"
	escaped := `{` + id + `,"type":"cl\u0069ent","level":"error","service":"s","host":"h","outcome":"failure"}` + "\n"
	wrongLevel := `{` + id + `,"type":"client","level":"info","service":"s","host":"h","outcome":"success"}` + "\n"
	for _, l := range []string{reordered, escaped, wrongLevel, "not json\n", "{}\n"} {
		h.Publish([]byte(l))
	}
	h.close(t)

	if got, want := receivedTypes(t, recv), []string{"client/error", "client/error"}; !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
	if got := h.count("event_log", "dropped"); got != 0 {
		t.Errorf("dropped = %v, want 0 (filtered events are not drops)", got)
	}
}

func TestRetryUntilDelivered(t *testing.T) {
	const failures = 3
	var calls atomic.Int32
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= failures {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, config(recv.URL), webhook.Options{})

	h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	h.close(t)

	if got := len(recv.Requests()); got != failures+1 {
		t.Errorf("receiver got %d requests, want %d", got, failures+1)
	}
	for result, want := range map[string]float64{"delivered": 1, "retried": failures, "failed": 0, "dropped": 0} {
		if got := h.count("event_log", result); got != want {
			t.Errorf("%s = %v, want %v", result, got, want)
		}
	}
}

func TestTLSVerify(t *testing.T) {
	tests := []struct {
		name          string
		verify        bool
		delivered     float64
		wantLastError string
	}{
		{"skipped", false, 1, ""},
		{"verified", true, 0, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recv := sidecartest.NewTLSRecorder(t)
			cfg := config(recv.URL)
			cfg.Endpoints.EventLog.TLSVerify = &tt.verify
			cfg.RetryFor = 0
			var reports []*event.Event
			h := newHarness(t, cfg, webhook.Options{Report: func(e *event.Event) { reports = append(reports, e) }})

			h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
			h.close(t)

			if got := h.count("event_log", "delivered"); got != tt.delivered {
				t.Errorf("delivered = %v, want %v", got, tt.delivered)
			}
			if tt.wantLastError == "" {
				if len(reports) != 0 {
					t.Errorf("reports = %d, want 0", len(reports))
				}
				return
			}
			if len(reports) != 1 || !strings.Contains(string(reports[0].Details), tt.wantLastError) {
				t.Fatalf("reports = %v, want one whose last_error mentions %q", reports, tt.wantLastError)
			}
		})
	}
}

func TestPublishAfterCloseIsDropped(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	h := newHarness(t, config(recv.URL), webhook.Options{})
	h.close(t)

	h.Publish(line(t, event.TypeHTTP, event.LevelInfo))

	if got := h.count("event_log", "dropped"); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	if got := len(recv.Requests()); got != 0 {
		t.Errorf("receiver got %d requests, want 0", got)
	}
}

func TestDisabledTakesNothing(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	cfg := config(recv.URL)
	cfg.Enabled = false
	h := newHarness(t, cfg, webhook.Options{})

	h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	h.close(t)

	if got := len(recv.Requests()); got != 0 {
		t.Errorf("receiver got %d requests, want 0", got)
	}
}

func TestNewReadsPasswordFile(t *testing.T) {
	cfg := config("http://127.0.0.1:1")
	cfg.Endpoints.EventLog.PasswordFile = filepath.Join(t.TempDir(), "missing")
	_, err := webhook.New(cfg, webhook.Options{Metrics: metrics.Discard()})
	if err == nil || !strings.HasPrefix(err.Error(), `webhooks.endpoints.event_log.password_file: "`) {
		t.Fatalf("New = %v, want an error naming webhooks.endpoints.event_log.password_file", err)
	}
}

// A receiver that answers late is never waited for longer than timeout.
func TestTimeoutPerAttempt(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	cfg := config(recv.URL)
	cfg.Timeout = 50 * time.Millisecond
	cfg.RetryFor = 0
	reports := make(chan *event.Event, 1)
	h := newHarness(t, cfg, webhook.Options{Report: func(e *event.Event) { reports <- e }})

	h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	h.close(t)

	select {
	case e := <-reports:
		if d := string(e.Details); !strings.Contains(d, `"last_error":"no response within 50ms"`) {
			t.Errorf("details = %s, want last_error no response within 50ms", d)
		}
	default:
		t.Fatal("no report")
	}
}
