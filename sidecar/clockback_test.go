package sidecar_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestClockSteppedBackAcrossRestart: the newest line of the dir is ahead of
// the clock at start (a clock that stepped back since the last run): every
// line written now comes after it, by eventTime and by the ids the writer
// makes, so the dir stays in eventTime order and a shipper resuming
// "after eventTime T" misses nothing. A line far ahead (an hour) is taken
// for a foreign one: new lines are stamped by the clock.
func TestClockSteppedBackAcrossRestart(t *testing.T) {
	up := httptest.NewServer(okUpstream())
	defer up.Close()
	for _, tc := range []struct {
		name   string
		ahead  time.Duration
		follow bool // new lines go on after the planted one
	}{
		{"20s ahead", 20 * time.Second, true},
		{"an hour ahead", time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sidecartest.Config(t, up.URL)
			cfg.Integrity.Enabled = false // the planted line is not sealed
			dir := cfg.ActivityTracker.Dir
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			planted := event.NewSystem("system.trailcar.stopped", event.LevelInfo, "an earlier run", nil)
			planted.Time = time.Now().Add(tc.ahead).Truncate(time.Microsecond)
			planted.ID = event.IDAt(uint64(planted.Time.UnixMilli()) << 12)
			planted.Service, planted.Host = "console", "earlier"
			line, err := event.AppendJSON(nil, planted)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "audit.log"), append(line, '\n'), 0o640); err != nil {
				t.Fatal(err)
			}

			c := sidecartest.Start(t, cfg)
			_, hdr, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/components", `{"name":"x"}`)
			c.WaitLine("the POST's event", func(l sidecartest.Line) bool { return l.ID == hdr.Get("X-Request-Id") })
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			lines := c.Lines()
			if len(lines) < 4 || lines[0].ID != planted.ID {
				t.Fatalf("%d lines, the first %s; want the planted one, then this run's", len(lines), lines[0].Raw)
			}
			for i := 1; i < len(lines); i++ {
				prev, cur := event.FormatTime(lines[i-1].Time), event.FormatTime(lines[i].Time)
				if tc.follow && cur <= prev {
					t.Errorf("line %d (%s) at %s, not after line %d at %s", i, lines[i].Type, cur, i-1, prev)
				}
				if lines[i].Type == event.TypeHTTP {
					continue // a request's id is made when it arrives
				}
				if tc.follow && lines[i].ID <= planted.ID {
					t.Errorf("line %d (%s): id %s not after the planted line's %s", i, lines[i].Type, lines[i].ID, planted.ID)
				}
			}
			if !tc.follow {
				if got := lines[1].Time; got.After(planted.Time) || time.Since(got) > time.Minute {
					t.Errorf("the first new line at %s: want the clock's time, not after the planted %s", got, planted.Time)
				}
			}
		})
	}
}
