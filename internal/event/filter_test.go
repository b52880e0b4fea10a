package event_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name, query, param string
	}{
		{"bad since", "since=the day before", "since"},
		{"bad before", "before=2026-13-01T00:00:00Z", "before"},
		{"since not before before", "since=2026-11-22T09:00:00Z&before=2026-11-22T08:00:00Z", "since"},
		{"bad level", "level=warn", "level"},
		{"bad outcome", "outcome=ok", "outcome"},
		{"bad status", "status=4x", "status"},
		{"status out of range", "status=99", "status"},
		{"bad glob", "type=system.[", "type"},
		{"bad resource glob", "resource={a", "resource"},
		{"bad resource_type glob", "resource_type=[a", "resource_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			_, err := event.ParseFilter(q)
			var pe *event.ParamError
			if !errors.As(err, &pe) || pe.Param != tt.param {
				t.Fatalf("err = %v, want a ParamError on %s", err, tt.param)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	e := sample() // POST /api/v3/components, 201, alice, resource channels:MyChannel
	tests := []struct {
		query string
		want  bool
	}{
		{"", true},
		{"level=info&outcome=success&service=console&host=console-7d9f-abcde", true},
		{"level=error", false},
		{"type=http", true},
		{"type=system.*", false},
		{"action=console.*.create", true},
		{"action=console.users.*", false},
		{"user=alice", true},
		{"user=u-1", true},
		{"user=bob", false},
		{"method=post", true},
		{"status=201", true},
		{"status=2xx", true},
		{"status=4xx", false},
		{"resource=My*", true},
		{"resource=/api/**", true}, // a glob that starts with "/" is a path, resource or not
		{"resource=/api/v3/widgets", false},
		{"resource=channels:My*", true}, // with a ":": TYPE:ID
		{"resource=widgets:My*", false},
		{"resource=MyChannel:*", false},
		{"resource_type=channels", true},
		{"resource_type=chan*", true},
		{"resource_type=components", false},
		{"since=2026-11-22T08:15:30.123456Z", true},
		{"since=2026-11-22T08:15:30.123457Z", false},
		{"before=2026-11-22T08:15:30.123456Z", false},
		{"before=2026-11-22T08:15:31Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			f, err := event.ParseFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			ev := *e
			ev.Time = ev.Time.Truncate(time.Microsecond)
			if got := f.Match(&ev); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	// Without a resource, the glob applies to the path.
	noRes := *e
	noRes.Resource = event.Resource{}
	f, _ := event.ParseFilter(url.Values{"resource": {"/api/**"}})
	if !f.Match(&noRes) {
		t.Error("resource glob should fall back to req.path")
	}
	// resource_type never matches an event without a resource.
	if f, _ := event.ParseFilter(url.Values{"resource_type": {"*"}}); f.Match(&noRes) {
		t.Error("resource_type=* matched an event with no resource")
	}
}

func TestFilterQueryRoundTrip(t *testing.T) {
	q, _ := url.ParseQuery("since=2026-11-22T08:00:00Z&level=error&type=system.*&status=5xx&resource=/api/**&user=alice")
	f, err := event.ParseFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	back, err := event.ParseFilter(f.Query())
	if err != nil {
		t.Fatal(err)
	}
	if back.Query().Encode() != f.Query().Encode() {
		t.Fatalf("%s != %s", back.Query().Encode(), f.Query().Encode())
	}
}

func TestParseTimeForms(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"2026-11-22T08:00:00Z", time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), false},
		{"2026-11-22T08:00:00.5+01:00", time.Date(2026, 11, 22, 7, 0, 0, 5e8, time.UTC), false},
		{"2026-11-22T08:00:00", time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), false},
		{"2026-11-22T08:00:00.123456", time.Date(2026, 11, 22, 8, 0, 0, 123456000, time.UTC), false},
		{"2026-11-22", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), false},
		{"90s", now.Add(-90 * time.Second), false},
		{"1h30m", now.Add(-90 * time.Minute), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"1d12h", now.Add(-36 * time.Hour), false},
		{"2026-11-22 08:00", time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), false},
		{"2026-11-22 08:00:30", time.Date(2026, 11, 22, 8, 0, 30, 0, time.UTC), false},
		{"now", now, false},
		{"today", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), false},
		{"yesterday", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), false},
		{"-5m", now.Add(-5 * time.Minute), false},
		{"-1d", now.Add(-24 * time.Hour), false},
		{"--5m", time.Time{}, true},
		{"+5m", time.Time{}, true},
		{"-0s", time.Time{}, true},
		{"Yesterday", time.Time{}, true},
		{"0s", time.Time{}, true},
		{"2026-13-01", time.Time{}, true},
		{"d", time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := event.ParseTime(tc.in, now)
			if tc.bad != (err != nil) || !got.Equal(tc.want) {
				t.Errorf("ParseTime(%q) = %v, %v; want %v (bad %v)", tc.in, got, err, tc.want, tc.bad)
			}
		})
	}
}

func TestFilterParamsRefused(t *testing.T) {
	tests := []struct {
		param, value string
	}{
		{"resource", "/**/*a*a*a*a*a*a*a*a*z*"}, // matching would cost a polynomial in the path's length
		{"action", "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}"},
		{"level", "warn"},
		{"since", "soon"},
	}
	for _, tc := range tests {
		t.Run(tc.param, func(t *testing.T) {
			_, err := event.ParseFilter(url.Values{tc.param: {tc.value}})
			var pe *event.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param {
				t.Fatalf("ParseFilter(%s=%s) = %v, want a ParamError naming %s", tc.param, tc.value, err, tc.param)
			}
		})
	}
	f, err := event.ParseFilter(url.Values{"level": {"ERROR"}, "outcome": {"Failure"}})
	if err != nil || f.Level != "error" || f.Outcome != "failure" {
		t.Errorf("level=ERROR: %+v, %v", f, err)
	}
}
