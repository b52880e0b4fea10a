package sidecar_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestReadYourWrites: the management routes answer only once their own
// records are in the file (docs/guarantees.md "Read your writes"): a list
// sent the moment the answer arrives shows them, every time. 50 rounds
// each of: a notification created, then listed; archived, then left out
// of the list; events deleted, then their system.events.deleted record
// listed.
func TestReadYourWrites(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	s := sidecartest.Start(t, sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok"))
	auth := []string{"Authorization", "Bearer tok"}
	notes := s.AdminURL() + "/api/v3/notifications"
	matching := func(query string) int { // the notifications that pass the filter
		t.Helper()
		var l notificationList
		code, _, out := sidecartest.Do(t, "GET", notes+"?"+query, "", auth...)
		if code != 200 || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("list %s: %d %s", query, code, out)
		}
		return l.Returning
	}
	const rounds = 50
	seen := map[string]int{}
	for i := range rounds {
		component := fmt.Sprintf("ryw%d", i)
		code, _, out := sidecartest.Do(t, "POST", notes, fmt.Sprintf(`{"message":"m%d","status":"success","by":"ops","component_id":%q}`, i, component), auth...)
		var created struct{ ID string }
		if json.Unmarshal([]byte(out), &created); code != 201 || created.ID == "" {
			t.Fatalf("create %d: %d %s", i, code, out)
		}
		if matching("component_id="+component) == 1 {
			seen["create"]++
		}
		code, _, out = sidecartest.Do(t, "POST", notes+"/bulk", fmt.Sprintf(`{"notification_ids":[%q]}`, created.ID), auth...)
		if code != 200 {
			t.Fatalf("archive %d: %d %s", i, code, out)
		}
		if matching("component_id="+component) == 0 && matching("archived=true&component_id="+component) == 1 {
			seen["archive"]++
		}

		sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/gone/%d", s.ProxyURL(), i), "")
		code, _, out = sidecartest.Do(t, "DELETE", fmt.Sprintf("%s/api/v3/events?resource=/api/v3/gone/%d", s.AdminURL(), i), "", auth...)
		if code != 200 {
			t.Fatalf("delete %d: %d %s", i, code, out)
		}
		var page struct {
			ItemCount int `json:"item_count"`
		}
		code, _, out = sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events?type=system.events.deleted&limit=1000", "", auth...)
		if code != 200 || json.Unmarshal([]byte(out), &page) != nil {
			t.Fatalf("list deletes %d: %d %s", i, code, out)
		}
		if page.ItemCount == i+1 {
			seen["delete"]++
		}
	}
	for _, what := range []string{"create", "archive", "delete"} {
		if seen[what] != rounds {
			t.Errorf("%s, then read at once: %d/%d showed it", what, seen[what], rounds)
		}
	}
}
