package sidecar_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestNotificationsRoute: POST /api/v3/notifications on the admin port,
// behind the token, records a notification event and answers its id; the
// request itself is audited as trailcar.notifications.create, refused or
// not.
func TestNotificationsRoute(t *testing.T) {
	up := metricsUpstream(t)
	cfg := sidecartest.Config(t, up.URL)
	cfg = sidecartest.WithToken(t, cfg, "tok")
	s := sidecartest.Start(t, cfg)
	url := s.AdminURL() + "/api/v3/notifications"
	auth := []string{"Authorization", "Bearer tok"}

	tests := []struct {
		name       string
		method     string
		body       string
		header     []string
		wantStatus int
		wantError  string
	}{
		{"created", "POST", `{"message":"channel c1 created","status":"error","by":"ops-bot",
			"component_id":"c1","component_type":"channel","details":{"peers":2}}`, auth, 201, ""},
		{"no token", "POST", `{"message":"m"}`, nil, 401, "missing or wrong bearer token"},
		{"wrong token", "POST", `{"message":"m"}`, []string{"Authorization", "Bearer nope"}, 401, "missing or wrong bearer token"},
		{"bad status", "POST", `{"message":"m","status":"warning"}`, auth, 400, "status: "},
		{"unknown field", "POST", `{"message":"m","msg":"x"}`, auth, 400, `unknown field "msg"`},
		{"details not an object", "POST", `{"message":"m","details":[]}`, auth, 400, "details: want a JSON object"},
		{"PUT", "PUT", "", auth, 405, "method PUT not allowed; allowed: GET, POST"},
	}
	var createdID string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := sidecartest.Do(t, tc.method, url, tc.body, tc.header...)
			if status != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", status, body, tc.wantStatus)
			}
			var answer struct{ ID, Error string }
			if err := json.Unmarshal([]byte(body), &answer); err != nil {
				t.Fatalf("answer %q: %v", body, err)
			}
			if tc.wantStatus == 201 {
				createdID = answer.ID
			} else if !strings.HasPrefix(answer.Error, tc.wantError) {
				t.Errorf("error %q, want it to start with %q", answer.Error, tc.wantError)
			}
		})
	}
	s.Stop()

	var notifications []sidecartest.Line
	adminStatuses := map[int]int{}
	for _, e := range s.Lines() {
		switch {
		case e.Type == "notification":
			notifications = append(notifications, e)
		case e.Action == "trailcar.notifications.create":
			adminStatuses[e.Res.StatusCode]++
		}
	}
	if len(notifications) != 1 {
		t.Fatalf("%d notification events, want 1", len(notifications))
	}
	n := notifications[0]
	if n.ID != createdID || n.Level != "error" || n.Outcome != "failure" || n.Message != "channel c1 created" ||
		n.Creds.Name != "ops-bot" || n.Creds.Type != "app" || n.Creds.UUID != "-" ||
		n.Resource.Type != "channel" || n.Resource.ID != "c1" || string(n.Details) != `{"peers":2}` ||
		n.Address != "127.0.0.1" {
		t.Errorf("notification event %s (answered id %s)", n.Raw, createdID)
	}
	want := map[int]int{201: 1, 401: 2, 400: 3, 405: 1}
	for code, count := range want {
		if adminStatuses[code] != count {
			t.Errorf("trailcar.notifications.create events by status %v, want %v", adminStatuses, want)
			break
		}
	}
}

// TestNotificationsWithTrackerDisabled: with no audit file, a notification
// is still answered and goes to the subscribers (here a webhook).
func TestNotificationsWithTrackerDisabled(t *testing.T) {
	up := metricsUpstream(t)
	rec := sidecartest.NewRecorder(t, http.StatusNoContent)
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.Enabled = false
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Endpoints.EventLog.URL = rec.URL
	cfg.Webhooks.Types = []string{"notification"}
	s := sidecartest.Start(t, cfg)
	status, _, body := sidecartest.Do(t, "POST", s.AdminURL()+"/api/v3/notifications", `{"message":"hello"}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d %s, want 201", status, body)
	}
	var answer struct{ ID string }
	json.Unmarshal([]byte(body), &answer)
	s.Stop()

	got := rec.Delivered(t)
	if len(got) != 1 {
		t.Fatalf("receiver got %d events, want the notification", len(got))
	}
	var e struct{ ID, Type, Message string }
	json.Unmarshal(got[0].Event, &e)
	if e.ID != answer.ID || e.Type != "notification" || e.Message != "hello" {
		t.Errorf("delivered %s, want the notification %s", got[0].Event, answer.ID)
	}
	if files := sidecartest.Files(t, s.Dir()); len(files) != 0 {
		t.Errorf("files written with the tracker disabled: %v", files)
	}
}
