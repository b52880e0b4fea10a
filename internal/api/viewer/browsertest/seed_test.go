package browsertest_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// seedKind is one kind of request an earlier run recorded.
type seedKind struct {
	weight         int
	method, path   string
	action         string
	statuses       []int
	resource, user string
}

var seedKinds = []seedKind{
	{30, http.MethodGet, "/ak/api/v1/components/status", "console.components.read", []int{200, 200, 200, 503}, "", "ci-bot"},
	{18, http.MethodPost, "/api/v3/components", "console.components.create", []int{201, 201, 201, 400}, "components", "alice"},
	{12, http.MethodPut, "/api/v3/channels/mychannel", "console.channels.update", []int{200, 200, 409}, "channels", "bob"},
	{8, http.MethodDelete, "/api/v3/components/peer-3", "console.components.delete", []int{204, 404}, "components", "alice"},
	{10, http.MethodPost, "/auth/login", "console.users.login", []int{200, 200, 200, 401}, "", "carol"},
	{4, http.MethodGet, "/api/v3/settings", "console.settings.read", []int{403}, "", "dave"},
	{3, http.MethodPost, "/api/v3/exports", "console.exports.create", []int{202, 500}, "", "bob"},
}

// history returns n events spread over the hour before now, oldest first,
// as an earlier run of the sidecar would have left them in its audit log:
// a steady load, busier mid-hour, with a burst of failures 20 minutes ago.
func history(t *testing.T, n int, now time.Time) []*event.Event {
	t.Helper()
	rnd := rand.New(rand.NewPCG(4, 2))
	var at time.Time
	ids := &event.IDs{Now: func() time.Time { return at }} // ids carry the event's time
	total := 0
	for _, k := range seedKinds {
		total += k.weight
	}
	times := make([]time.Time, n)
	for i := range times {
		// Denser in the middle of the hour.
		f := (rnd.Float64() + rnd.Float64() + rnd.Float64()) / 3
		times[i] = now.Add(-time.Hour + 90*time.Second + time.Duration(f*float64(56*time.Minute)))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	events := make([]*event.Event, 0, n)
	for _, at = range times {
		w := rnd.IntN(total)
		k := seedKinds[0]
		for _, c := range seedKinds {
			if w < c.weight {
				k = c
				break
			}
			w -= c.weight
		}
		status := k.statuses[rnd.IntN(len(k.statuses))]
		if d := now.Sub(at); d > 19*time.Minute && d < 22*time.Minute && rnd.IntN(3) > 0 {
			status = 503 // the upstream had a bad moment
		}
		e := &event.Event{
			ID: ids.New(), Time: at.UTC(), Type: event.TypeHTTP, Service: "console", Host: "console-7d9f-abcde",
			Level: event.LevelInfo, Outcome: event.OutcomeOf(status), Action: k.action,
			Creds:      event.Creds{UUID: event.Unknown, Name: k.user, Type: "token"},
			Address:    fmt.Sprintf("10.1.2.%d", 10+rnd.IntN(40)),
			Req:        event.Request{Method: k.method, Path: k.path},
			Res:        event.Response{StatusCode: status, Bytes: int64(100 + rnd.IntN(4000))},
			DurationMS: float64(rnd.IntN(90000)) / 1000,
		}
		if e.Outcome == event.OutcomeFailure {
			e.Level = event.LevelError
		}
		if k.resource != "" {
			e.Resource = event.Resource{Type: k.resource, ID: k.path[len("/api/v3/"+k.resource):]}
		}
		events = append(events, e)
	}
	return events
}

// writeHistory writes events as the live audit file of dir.
func writeHistory(t *testing.T, dir string, events []*event.Event) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for _, e := range events {
		var err error
		if buf, err = event.AppendJSON(buf, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "audit.log"), buf, 0o640); err != nil {
		t.Fatal(err)
	}
}
