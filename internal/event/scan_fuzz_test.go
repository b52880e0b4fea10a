package event_test

import (
	"bytes"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/event"
)

// fuzzFilters are the filters FuzzScanLine checks every line against:
// each looks at different fields.
var fuzzFilters = []string{
	"",
	"level=error",
	"level=info&service=console&host=console-7d9f-abcde&outcome=success",
	"type=system.*",
	"action=console.*.create",
	"user=alice",
	"user=u-1",
	"method=POST",
	"status=201",
	"status=4xx",
	"resource=My*",
	"resource_type=chan*",
	"resource_type=comp*",
	"resource=/api/**",
	"resource=channels:My*",
	"resource=t:*",
	"since=2026-11-22T08:15:30.123456Z",
	"before=2026-11-22T08:15:30.5Z",
	"service=\u00e9&host=\ufffd",
	"action=a\"b",
	"user=-",
}

func fuzzSeeds(f *testing.F) {
	for _, e := range []*event.Event{sample(), sampleSystem(), sampleEscaped(), sampleBodies()} {
		line, err := event.AppendJSON(nil, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSuffix(line, []byte("\n")))
	}
	f.Add([]byte(`{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"http","level":"info","service":"s","host":"h","outcome":"success","level":"error"}`))
	f.Add([]byte(`{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-02-29T08:15:30.123456Z","type":"http","level":"info","service":"s","host":"h","outcome":"success"}`))
	f.Add([]byte(`{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"h\u0074tp","level":"info","service":"s","host":"h","outcome":"success","res":{"statusCode":404,"client_details":{"a":[1,-2.5e3,"x",null,true,{"b":{}}]}},"details":{ "k" : "v" }}`))
	f.Add([]byte(`{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"http","level":"info","service":"s","host":"h","outcome":"success","req":{"path":"/x"},"resource":{"type":"t"}}`))
}

// FuzzScanLine checks the fast path against the slow one: for every line
// and filter, LineFilter's verdict is Decode + Filter.Match's, and when
// ScanLine accepts a line its fields are the decoded event's.
func FuzzScanLine(f *testing.F) {
	fuzzSeeds(f)
	filters := make([]event.Filter, len(fuzzFilters))
	for i, q := range fuzzFilters {
		v, err := url.ParseQuery(q)
		if err != nil {
			f.Fatal(err)
		}
		if filters[i], err = event.ParseFilter(v); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e event.Event
		decodeErr := event.Decode(line, &e)
		var fl event.Fields
		if event.ScanLine(line, &fl) {
			if decodeErr != nil {
				t.Fatalf("ScanLine accepted a line Decode refuses (%v): %q", decodeErr, line)
			}
			checkFields(t, line, &fl, &e)
		}
		for i := range filters {
			want := event.Invalid
			if decodeErr == nil {
				want = event.NoMatch
				if filters[i].Match(&e) {
					want = event.Matched
				}
			}
			if got := event.NewLineFilter(&filters[i]).Match(line); got != want {
				t.Fatalf("filter %q: verdict %d, want %d, line %q", fuzzFilters[i], got, want, line)
			}
		}
	})
}

// checkFields compares exact fields with the decoded event.
func checkFields(t *testing.T, line []byte, fl *event.Fields, e *event.Event) {
	t.Helper()
	// Raw bytes without escapes and in valid UTF-8 are the decoded value.
	same := func(name string, raw []byte, decoded string) {
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) && string(raw) != decoded {
			t.Fatalf("%s: scanned %q, decoded %q: %q", name, raw, decoded, line)
		}
	}
	same("id", fl.ID, e.ID)
	same("eventTime", fl.Time, event.FormatTime(e.Time))
	same("type", fl.Type, e.Type)
	same("level", fl.Level, e.Level)
	same("service", fl.Service, e.Service)
	same("host", fl.Host, e.Host)
	same("outcome", fl.Outcome, e.Outcome)
	same("action", fl.Action, e.Action)
	same("creds.uuid", fl.CredsUUID, e.Creds.UUID)
	same("creds.name", fl.CredsName, e.Creds.Name)
	same("req.method", fl.Method, e.Req.Method)
	same("req.path", fl.Path, e.Req.Path)
	same("resource.id", fl.ResourceID, e.Resource.ID)
	if fl.Status != e.Res.StatusCode {
		t.Fatalf("status: scanned %d, decoded %d: %q", fl.Status, e.Res.StatusCode, line)
	}
}
