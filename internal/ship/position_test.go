package ship_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/ship"
)

// TestShipResumeTies: lines written in the same microsecond share an
// eventTime; a resume goes by the saved id and the ties, so it sends the
// line at that time it had not sent, and not the ones it had.
func TestShipResumeTies(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var data []byte
	ids := []string{"01a2000000000000aaaaaaaaaaaaaaa1", "01a2000000000000aaaaaaaaaaaaaaa2", "01a2000000000000aaaaaaaaaaaaaaa3", "01a2000000000000aaaaaaaaaaaaaaa4"}
	times := []time.Time{at, at.Add(2 * time.Microsecond), at.Add(2 * time.Microsecond), at.Add(3 * time.Microsecond)}
	for i, id := range ids {
		data, _ = event.AppendJSON(data, &event.Event{ID: id, Time: times[i], Type: "http", Level: "info", Service: "s", Host: "h", Outcome: "success"})
	}
	for _, tc := range []struct {
		name string
		pos  ship.Position
		want []string
	}{
		{"none", ship.Position{}, ids},
		{"first", ship.Position{EventTime: event.FormatTime(times[0]), ID: ids[0]}, ids[1:]},
		{"one of a tie", ship.Position{EventTime: event.FormatTime(times[1]), ID: ids[1]}, ids[2:]},
		{"both of a tie", ship.Position{EventTime: event.FormatTime(times[2]), ID: ids[2], Ties: []string{ids[1]}}, ids[3:]},
		{"deleted line", ship.Position{EventTime: event.FormatTime(times[0].Add(time.Microsecond)), ID: "01a2000000000000aaaaaaaaaaaaaaa0"}, ids[1:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeBulk{ids: map[string]int{}}
			srv := newFake(t, fake)
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "audit.log"), data, 0o640)
			if tc.pos.ID != "" {
				if err := ship.SavePosition(filepath.Join(dir, ship.PositionFile), tc.pos); err != nil {
					t.Fatal(err)
				}
			}
			cfg := shipConfig(srv+"/base?keep=1", ship.Elasticsearch)
			cfg.Index = "audit"
			m := ship.NewMetrics(prometheus.NewRegistry())
			r := startShipper(t, ship.Options{Config: cfg, Dir: dir, Poll: 10 * time.Millisecond, Metrics: m})
			waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= float64(len(tc.want)) })
			time.Sleep(100 * time.Millisecond)
			r.stopClean(t)
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.ids) != len(tc.want) {
				t.Errorf("sent %v, want %v", fake.ids, tc.want)
			}
			for _, id := range tc.want {
				if fake.ids[id] != 1 {
					t.Errorf("%s sent %d times", id, fake.ids[id])
				}
			}
		})
	}
}

// TestShipBadPosition: a position file that is not one stops New, and
// says how to go on.
func TestShipBadPosition(t *testing.T) {
	for _, body := range []string{"{", `{"eventTime":"yesterday","id":"x"}`} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ship.PositionFile), []byte(body), 0o600)
		_, err := ship.New(ship.Options{Config: shipConfig("http://127.0.0.1:1", ship.Elasticsearch), Dir: dir})
		if err == nil || !strings.Contains(err.Error(), "remove it to ship the dir from its oldest line") {
			t.Errorf("%q: New: %v", body, err)
		}
	}
}
