package notifications_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	notification "github.com/trailcar/trailcar/internal/api/notifications"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

func newServer(t *testing.T) (*httptest.Server, *sidecartest.Sink) {
	t.Helper()
	sk := sidecartest.NewSink(t)
	h, err := notification.New(notification.Options{Sink: sk, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(h.Create))
	t.Cleanup(srv.Close)
	return srv, sk
}

func post(t *testing.T, srv *httptest.Server, contentType, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v3/notifications", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestNotificationCreated(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    event.Event
	}{
		{
			name: "every field", contentType: "application/json",
			body: `{"message":"channel MyChannel created","status":"success","by":"alice",
				"component_id":"MyChannel","component_type":"channel","details":{ "peers": [ "p1" ] }}`,
			want: event.Event{Type: event.TypeNotification, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
				Creds: event.Creds{Name: "alice", Type: identity.TypeApp}, Address: "127.0.0.1",
				Message: "channel MyChannel created", Resource: event.Resource{Type: "channel", ID: "MyChannel"},
				Details: json.RawMessage(`{"peers":["p1"]}`)},
		},
		{
			name: "status error: level error, outcome failure", contentType: "application/json; charset=utf-8",
			body: `{"message":"upgrade failed","status":"error","details":null}`,
			want: event.Event{Type: event.TypeNotification, Level: event.LevelError, Outcome: event.OutcomeFailure,
				Creds: event.Creds{Type: identity.TypeApp}, Address: "127.0.0.1", Message: "upgrade failed"},
		},
		{
			name: "status defaults to success", contentType: "application/merge-patch+json",
			body: `{"message":"` + strings.Repeat("é", notification.MaxMessage/2) + `"}`,
			want: event.Event{Type: event.TypeNotification, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
				Creds: event.Creds{Type: identity.TypeApp}, Address: "127.0.0.1",
				Message: strings.Repeat("é", notification.MaxMessage/2)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, sk := newServer(t)
			status, body, _ := post(t, srv, tc.contentType, tc.body)
			if status != http.StatusCreated {
				t.Fatalf("answer %d %s, want 201", status, body)
			}
			var answer struct{ ID string }
			if err := json.Unmarshal([]byte(body), &answer); err != nil || !event.ValidID(answer.ID) {
				t.Fatalf("answer %s: want {\"id\":\"<32 hex>\"} (%v)", body, err)
			}
			events := sk.Events()
			if len(events) != 1 {
				t.Fatalf("%d events, want 1", len(events))
			}
			got := events[0]
			if got.ID != answer.ID {
				t.Errorf("event id %s, answered %s", got.ID, answer.ID)
			}
			got.ID = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("event\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestNotificationRefused(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantError               string
	}{
		{"no content type", "", `{"message":"m"}`, 415, `Content-Type: "": want application/json`},
		{"text content type", "text/plain", `{"message":"m"}`, 415, `Content-Type: "text/plain"`},
		{"not JSON", "application/json", `{"message":`, 400, "body: invalid JSON"},
		{"empty", "application/json", ``, 400, "body: want a JSON object, got nothing"},
		{"an array", "application/json", `["m"]`, 400, "body: want a JSON object, got array"},
		{"null", "application/json", `null`, 400, "body: want a JSON object, got null"},
		{"too large", "application/json", `{"message":"m","details":{"x":"` + strings.Repeat("a", notification.MaxBody) + `"}}`, 400, "body: larger than 65536 bytes"},
		{"unknown field", "application/json", `{"message":"m","colour":"red"}`, 400, `unknown field "colour": want message, status, by`},
		{"unknown fields", "application/json", `{"Message":"m","size":1}`, 400, `unknown fields "Message", "size"`},
		{"message missing", "application/json", `{"status":"success"}`, 400, "message: required"},
		{"message null", "application/json", `{"message":null}`, 400, "message: required"},
		{"message empty", "application/json", `{"message":""}`, 400, "message: must not be empty"},
		{"message not a string", "application/json", `{"message":{"a":1}}`, 400, "message: want a string"},
		{"message too long", "application/json", `{"message":"` + strings.Repeat("a", notification.MaxMessage+1) + `"}`, 400, "message: 4097 bytes: at most 4096"},
		{"status unknown", "application/json", `{"message":"m","status":"failure"}`, 400, `status: "failure": want "success" or "error"`},
		{"status not a string", "application/json", `{"message":"m","status":1}`, 400, `status: 1: want`},
		{"by not a string", "application/json", `{"message":"m","by":["alice"]}`, 400, "by: want a string"},
		{"component_id too long", "application/json", `{"message":"m","component_id":"` + strings.Repeat("i", 257) + `"}`, 400, "component_id: 257 bytes: at most 256"},
		{"component_type empty", "application/json", `{"message":"m","component_type":""}`, 400, "component_type: must not be empty"},
		{"details an array", "application/json", `{"message":"m","details":[1]}`, 400, "details: want a JSON object"},
		{"details a string", "application/json", `{"message":"m","details":"{}"}`, 400, "details: want a JSON object"},
	}
	srv, sk := newServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := post(t, srv, tc.contentType, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", status, body, tc.wantStatus)
			}
			var answer struct{ Error string }
			if err := json.Unmarshal([]byte(body), &answer); err != nil {
				t.Fatalf("answer %q is not JSON: %v", body, err)
			}
			if !strings.HasPrefix(answer.Error, tc.wantError) {
				t.Errorf("error %q, want it to start with %q", answer.Error, tc.wantError)
			}
		})
	}
	if n := len(sk.Events()); n != 0 {
		t.Errorf("%d events recorded from refused requests, want 0", n)
	}
}

func TestNotificationSinkFails(t *testing.T) {
	srv, sk := newServer(t)
	sk.Fail(errors.New("audit writer closed"))
	status, body, _ := post(t, srv, "application/json", `{"message":"m"}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "audit writer closed") {
		t.Errorf("answer %d %s, want 503 saying why", status, body)
	}
}

func TestNewNeedsSink(t *testing.T) {
	if _, err := notification.New(notification.Options{}); err == nil {
		t.Error("New without a Sink succeeded")
	}
}

func ExampleParse() {
	n, err := notification.Parse([]byte(`{"message":"peer p1 restarted","status":"error","by":"operator",
		"component_id":"p1","component_type":"peer"}`))
	if err != nil {
		panic(err)
	}
	e := n.Event()
	fmt.Println(e.Type, e.Level, e.Outcome, e.Creds.Name, e.Creds.Type, e.Resource.Type, e.Resource.ID)
	_, err = notification.Parse([]byte(`{"message":"m","colour":"red"}`))
	fmt.Println(err)
	// Output:
	// notification error failure operator app peer p1
	// unknown field "colour": want message, status, by, component_id, component_type, details, ts_display
}
