package event_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

func sampleSystem() *event.Event {
	return &event.Event{ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e60", Time: fixedTime, Type: "system.events.deleted",
		Level: event.LevelInfo, Service: "console", Host: "h", Outcome: event.OutcomeSuccess, Message: "3 events deleted",
		Details: []byte(`{"count":3,"filter":"level=error"}`)}
}

// sampleEscaped has values that need escapes, so their bytes are not
// their decoded values.
func sampleEscaped() *event.Event {
	e := sample()
	e.ID = "01937c4e5a2b7c3d8e9f0a1b2c3d4e61"
	e.Action = "console.\"quoted\".create"
	e.Creds.Name = "ali\tce"
	e.Req.Path = "/api/v3/x\u2028y"
	e.Resource = event.Resource{}
	return e
}

func encodeLine(t testing.TB, e *event.Event) []byte {
	t.Helper()
	line, err := event.AppendJSON(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(line, []byte("\n"))
}

func TestScanLineReadsWhatDecodeReads(t *testing.T) {
	for _, e := range []*event.Event{sample(), sampleSystem(), sampleEscaped(), sampleBodies()} {
		t.Run(e.Type+"/"+e.ID[28:], func(t *testing.T) {
			line := encodeLine(t, e)
			var fl event.Fields
			if !event.ScanLine(line, &fl) {
				t.Fatalf("ScanLine refused an encoded line: %s", line)
			}
			var d event.Event
			if err := event.Decode(line, &d); err != nil {
				t.Fatal(err)
			}
			checkFields(t, line, &fl, &d)
		})
	}
}

func TestScanLineRefusesOtherLayouts(t *testing.T) {
	good := string(encodeLine(t, sampleSystem()))
	tests := []struct{ name, line string }{
		{"empty", ""},
		{"torn", good[:len(good)-10]},
		{"trailing garbage", good + "x"},
		{"trailing space", good + " "},
		{"repeated key", strings.TrimSuffix(good, "}") + `,"level":"error"}`},
		{"unknown key", strings.TrimSuffix(good, "}") + `,"extra":1}`},
		{"key in other case", strings.Replace(good, `"level"`, `"Level"`, 1)},
		{"space after colon", strings.Replace(good, `"type":`, `"type": `, 1)},
		{"bad id", strings.Replace(good, "01937c4e", "01937C4E", 1)},
		{"bad month", strings.Replace(good, "2026-11-22", "2026-13-22", 1)},
		{"no leap day", strings.Replace(good, "2026-11-22", "2026-02-29", 1)},
		{"control character", strings.Replace(good, "3 events", "3\x01events", 1)},
		{"bad escape", strings.Replace(good, "3 events", `3\xevents`, 1)},
		{"number with exponent", strings.Replace(good, `"outcome":"success"`, `"outcome":"success","duration_ms":1e3`, 1)},
		{"status not an integer", strings.Replace(good, `"outcome":"success"`, `"outcome":"success","res":{"statusCode":2.5}`, 1)},
		{"status with leading zero", strings.Replace(good, `"outcome":"success"`, `"outcome":"success","res":{"statusCode":0201}`, 1)},
		{"body_truncated not true", strings.Replace(good, `"outcome":"success"`, `"outcome":"success","res":{"statusCode":200,"body":"x","body_truncated":false}`, 1)},
		{"body after body_truncated", strings.Replace(good, `"outcome":"success"`, `"outcome":"success","req":{"body_truncated":true,"body":"x"}`, 1)},
		{"details not closed", strings.Replace(good, `"count":3,`, `"count":[3,`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fl event.Fields
			if event.ScanLine([]byte(tt.line), &fl) {
				t.Fatalf("ScanLine accepted %q", tt.line)
			}
		})
	}
}

// TestLineFilterAgreesWithMatch runs every fuzz filter over the seed lines
// and variants whose fields need the slow path.
func TestLineFilterAgreesWithMatch(t *testing.T) {
	lines := [][]byte{encodeLine(t, sample()), encodeLine(t, sampleSystem()), encodeLine(t, sampleEscaped())}
	repeated := bytes.Replace(lines[1], []byte(`}}`), []byte(`},"level":"error"}`), 1)
	lines = append(lines, repeated, []byte("not json"), []byte(`{"id":"x"}`))
	for _, q := range fuzzFilters {
		v, _ := url.ParseQuery(q)
		f, err := event.ParseFilter(v)
		if err != nil {
			t.Fatal(err)
		}
		lf := event.NewLineFilter(&f)
		for i, line := range lines {
			t.Run(q+"/"+string(rune('a'+i)), func(t *testing.T) {
				want := event.Invalid
				var e event.Event
				if event.Decode(line, &e) == nil {
					want = event.NoMatch
					if f.Match(&e) {
						want = event.Matched
					}
				}
				if got := lf.Match(line); got != want {
					t.Fatalf("verdict %d, want %d for %s", got, want, line)
				}
			})
		}
	}
}

func TestTimeTextOrdersLikeTimes(t *testing.T) {
	base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		bound time.Time
		event time.Time
		atOr  bool // event >= bound
	}{
		{"equal", base, base, true},
		{"a microsecond before", base, base.Add(-time.Microsecond), false},
		{"bound inside a microsecond", base.Add(500 * time.Nanosecond), base, false},
		{"bound inside, next microsecond", base.Add(500 * time.Nanosecond), base.Add(time.Microsecond), true},
		{"other zone", base.In(time.FixedZone("x", 3600)), base, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := event.FormatTime(tt.event) >= event.TimeText(tt.bound)
			if got != tt.atOr || got != !tt.event.Before(tt.bound) {
				t.Fatalf("text order %v, want %v", got, tt.atOr)
			}
		})
	}
}

func TestLineTimeAndID(t *testing.T) {
	line := encodeLine(t, sample())
	tm, ok := event.LineTime(line)
	if !ok || string(tm) != "2026-11-22T08:15:30.123456Z" {
		t.Fatalf("LineTime = %q, %v", tm, ok)
	}
	id, ok := event.LineID(line)
	if !ok || string(id) != sample().ID {
		t.Fatalf("LineID = %q, %v", id, ok)
	}
	if _, ok := event.LineTime([]byte(`{"eventTime":"2026-11-22T08:15:30.123456Z"}`)); ok {
		t.Fatal("LineTime read a line not in the encoder's layout")
	}
}
