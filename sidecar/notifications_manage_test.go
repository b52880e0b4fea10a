package sidecar_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

type notificationList struct {
	Total         int `json:"total"`
	Returning     int `json:"returning"`
	Notifications []struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		Status      string `json:"status"`
		Message     string `json:"message"`
		TSDisplay   int64  `json:"ts_display"`
		By          string `json:"by"`
		ComponentID string `json:"component_id"`
	} `json:"notifications"`
}

// TestNotificationAPIs drives the IBM console's notification APIs end to
// end over HTTP: create 250, page them, archive 10, list without and with
// the archived ones, purge, and find the purge's audit record.
func TestNotificationAPIs(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	s := sidecartest.Start(t, sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok"))
	auth := []string{"Authorization", "Bearer tok"}
	base := s.AdminURL() + "/api/v3/notifications"
	var ids []string // oldest first
	for i := range 250 {
		body := fmt.Sprintf(`{"message":"n%d","status":"%s","by":"ops","component_id":"c%d","ts_display":%d}`,
			i, map[bool]string{true: "error", false: "success"}[i%5 == 0], i%25, 1796000000000+int64(i))
		code, _, out := sidecartest.Do(t, "POST", base, body, auth...)
		var created struct{ Message, ID string }
		if json.Unmarshal([]byte(out), &created); code != 201 || created.Message != "ok" || created.ID == "" {
			t.Fatalf("create %d: %d %s", i, code, out)
		}
		ids = append(ids, created.ID)
	}
	list := func(query string) notificationList {
		t.Helper()
		var l notificationList
		code, _, out := sidecartest.Do(t, "GET", base+"?"+query, "", auth...)
		if code != 200 || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("list %s: %d %s", query, code, out)
		}
		return l
	}
	// Every one is written just after its 201: wait for the last.
	sidecartest.Eventually(t, "250 notifications in the trail", func() bool { return list("limit=1").Total == 250 })

	l := list("limit=100&skip=0")
	if l.Total != 250 || l.Returning != 100 || l.Notifications[0].ID != ids[249] || l.Notifications[99].ID != ids[150] {
		t.Fatalf("first page: total %d returning %d", l.Total, l.Returning)
	}
	first := l.Notifications[0]
	if first.Type != "other" || first.Status != "success" || first.Message != "n249" || first.By != "ops" ||
		first.ComponentID != "c24" || first.TSDisplay != 1796000000249 {
		t.Errorf("item %+v", first)
	}
	if l := list("limit=100&skip=200"); l.Returning != 50 || l.Notifications[49].ID != ids[0] {
		t.Errorf("last page: returning %d", l.Returning)
	}
	// total counts before the filter, as athena's: every notification.
	if l := list("component_id=c3"); l.Total != 250 || l.Returning != 10 {
		t.Errorf("component_id=c3: total %d returning %d", l.Total, l.Returning)
	}

	archive := ids[240:250]
	idsJSON, _ := json.Marshal(append(archive, "0123456789abcdef0123456789abcdef")) // one unknown id
	code, _, out := sidecartest.Do(t, "POST", base+"/bulk", `{"notification_ids":`+string(idsJSON)+`}`, auth...)
	if code != 200 || out != `{"details":"archived 10 notification(s)","message":"ok"}`+"\n" {
		t.Fatalf("bulk archive: %d %s", code, out)
	}
	sidecartest.Eventually(t, "the archive record", func() bool { return list("limit=1000").Returning == 240 })
	if l := list("limit=1"); l.Total != 250 {
		t.Errorf("total %d after archiving, want 250: archived ones are still in the trail", l.Total)
	}
	if l := list("limit=5"); l.Notifications[0].ID != ids[239] {
		t.Errorf("archived ones still listed first: %s", l.Notifications[0].ID)
	}
	if l := list("archived=true&limit=1"); l.Total != 250 || l.Notifications[0].ID != ids[249] {
		t.Errorf("archived=true: total %d", l.Total)
	}
	// Archiving again archives nothing more.
	if _, _, out := sidecartest.Do(t, "POST", base+"/bulk", `{"notification_ids":`+string(idsJSON)+`}`, auth...); !strings.Contains(out, "archived 0 notification(s)") {
		t.Errorf("second archive: %s", out)
	}

	for _, bad := range []struct{ method, url, body, want string }{
		{"GET", base + "?limit=0", "", "limit: "},
		{"GET", base + "?skip=-1", "", "skip: "},
		{"GET", base + "?archived=maybe", "", "archived: "},
		{"POST", base + "/bulk", `{"notification_ids":["nope"]}`, "notification_ids[0]: "},
		{"POST", base + "/bulk", `{"ids":[]}`, "body: "},
	} {
		if code, _, out := sidecartest.Do(t, bad.method, bad.url, bad.body, auth...); code != 400 || !strings.Contains(out, bad.want) {
			t.Errorf("%s %s %s: %d %s, want 400 naming %q", bad.method, bad.url, bad.body, code, out, bad.want)
		}
	}

	code, _, out = sidecartest.Do(t, "DELETE", base+"/purge", "", auth...)
	if code != 200 || out != `{"deleted":250,"message":"ok"}`+"\n" {
		t.Fatalf("purge: %d %s", code, out)
	}
	if l := list("archived=true"); l.Total != 0 {
		t.Errorf("after purge: total %d", l.Total)
	}
	purge := s.WaitLine("the purge's system.events.deleted", func(l sidecartest.Line) bool { return l.Type == "system.events.deleted" })
	if purge.DetailsMap["filter"] != "type=notification" || purge.DetailsMap["count"] != float64(250) || purge.Creds.Type != "token" {
		t.Errorf("purge record: %s", purge.Raw)
	}
	s.WaitLine("the purge request's own event", func(l sidecartest.Line) bool {
		return l.Action == sidecar.ActionNotificationsPurge && l.Res.StatusCode == 200
	})
}

// TestNotificationAPIVersions: athena serves the notification routes under
// /api/v1, v2 and v3; each is the same API, behind the token and audited.
func TestNotificationAPIVersions(t *testing.T) {
	up := sidecartest.Upstream(t, http.NotFoundHandler())
	s := sidecartest.Start(t, sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok"))
	auth := []string{"Authorization", "Bearer tok"}
	for _, v := range []string{"v1", "v2", "v3"} {
		base := s.AdminURL() + "/api/" + v + "/notifications"
		if code, _, out := sidecartest.Do(t, "POST", base, `{"message":"from `+v+`","status":"success","by":"ops"}`, auth...); code != 201 {
			t.Fatalf("POST %s: %d %s", base, code, out)
		}
		if code, _, _ := sidecartest.Do(t, "GET", base, ""); code != 401 {
			t.Errorf("GET %s without the token: %d, want 401", base, code)
		}
	}
	code, _, out := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v2/notifications", "", auth...)
	var l notificationList
	if code != 200 || json.Unmarshal([]byte(out), &l) != nil || l.Total != 3 || l.Returning != 3 {
		t.Fatalf("GET /api/v2/notifications: %d %s", code, out)
	}
	reads := func() (n int) {
		for _, line := range s.Lines() {
			if line.Action == "trailcar.notifications.read" && strings.HasPrefix(line.Req.Path, "/api/v") {
				n++
			}
		}
		return n
	}
	sidecartest.Eventually(t, "four audited reads (three refused, one answered)", func() bool { return reads() == 4 })
}
