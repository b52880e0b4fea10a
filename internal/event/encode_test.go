package event_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/event"
)

var fixedTime = time.Date(2026, 11, 22, 8, 15, 30, 123456789, time.UTC)

func sample() *event.Event {
	return &event.Event{
		ID:      "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f",
		Time:    fixedTime,
		Type:    event.TypeHTTP,
		Level:   event.LevelInfo,
		Service: "console",
		Host:    "console-7d9f-abcde",
		Outcome: event.OutcomeSuccess,
		Action:  "console.components.create",
		Creds:   event.Creds{UUID: "u-1", Name: "alice", Type: "token"},
		Address: "10.1.2.3",
		Req: event.Request{Method: "POST", Path: "/api/v3/components", UserAgent: "curl/8.5.0",
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Bytes: 42},
		Res:        event.Response{StatusCode: 201, Bytes: 512, ClientDetails: json.RawMessage(`{"a":1}`)},
		DurationMS: 3.2174,
		Resource:   event.Resource{Type: "channels", ID: "MyChannel"},
		Details:    json.RawMessage(`{"k":"v"}`),
	}
}

// sampleBodies has a captured request body kept as JSON and a response
// body cut to a string.
func sampleBodies() *event.Event {
	e := sample()
	e.ID = "01937c4e5a2b7c3d8e9f0a1b2c3d4e62"
	e.Req.Body = json.RawMessage(`{"name":"c1","auth":{"password":"REDACTED"}}`)
	e.Res.Body = event.AppendString(nil, `{"id":"c1","not`)
	e.Res.BodyTruncated = true
	return e
}

func TestAppendJSONGolden(t *testing.T) {
	tests := []struct {
		name string
		ev   *event.Event
		want string
	}{
		{
			name: "full http event",
			ev:   sample(),
			want: `{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"http","level":"info","service":"console","host":"console-7d9f-abcde","outcome":"success","action":"console.components.create","creds":{"uuid":"u-1","name":"alice","type":"token"},"address":"10.1.2.3","req":{"method":"POST","path":"/api/v3/components","user_agent":"curl/8.5.0","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","bytes":42},"res":{"statusCode":201,"bytes":512,"client_details":{"a":1}},"duration_ms":3.217,"resource":{"type":"channels","id":"MyChannel"},"details":{"k":"v"}}` + "\n",
		},
		{
			name: "captured bodies come last in req and res",
			ev:   sampleBodies(),
			want: `{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e62","eventTime":"2026-11-22T08:15:30.123456Z","type":"http","level":"info","service":"console","host":"console-7d9f-abcde","outcome":"success","action":"console.components.create","creds":{"uuid":"u-1","name":"alice","type":"token"},"address":"10.1.2.3","req":{"method":"POST","path":"/api/v3/components","user_agent":"curl/8.5.0","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","bytes":42,"body":{"name":"c1","auth":{"password":"REDACTED"}}},"res":{"statusCode":201,"bytes":512,"client_details":{"a":1},"body":"{\"id\":\"c1\",\"not","body_truncated":true},"duration_ms":3.217,"resource":{"type":"channels","id":"MyChannel"},"details":{"k":"v"}}` + "\n",
		},
		{
			name: "a body alone makes req",
			ev: &event.Event{ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", Time: fixedTime, Type: "http",
				Level: "info", Service: "s", Host: "h", Outcome: "success", Req: event.Request{Body: json.RawMessage(`"x"`)}},
			want: `{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"http","level":"info","service":"s","host":"h","outcome":"success","req":{"body":"x"}}` + "\n",
		},
		{
			name: "minimal system event keeps the first seven fields",
			ev: &event.Event{ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", Time: fixedTime, Type: "system.trailcar.started",
				Level: "info", Outcome: "success", Message: "started"},
			want: `{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"system.trailcar.started","level":"info","service":"","host":"","outcome":"success","message":"started"}` + "\n",
		},
		{
			name: "unknown creds become dashes",
			ev: &event.Event{ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", Time: fixedTime, Type: "http",
				Level: "info", Service: "s", Host: "h", Outcome: "success", Creds: event.Creds{Type: "public-access"}},
			want: `{"id":"01937c4e5a2b7c3d8e9f0a1b2c3d4e5f","eventTime":"2026-11-22T08:15:30.123456Z","type":"http","level":"info","service":"s","host":"h","outcome":"success","creds":{"uuid":"-","name":"-","type":"public-access"}}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.AppendJSON(nil, tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestAppendJSONHostileStrings(t *testing.T) {
	hostile := []string{
		"/a\nb", "/a\r\nX-Injected: 1", `/"quoted"\back`, "/ctl\x00\x01\x1f\x7f",
		"/bad\xff\xfeutf8", "/sep\u2028\u2029", "/emoji/🙂", "\xed\xa0\x80", strings.Repeat("\"", 1000),
	}
	for _, h := range hostile {
		ev := sample()
		ev.Req.Path = h
		ev.Req.UserAgent = h
		ev.Action = h
		ev.Creds.Name = h
		ev.Message = h
		line, err := event.AppendJSON(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("%q: line is not exactly one line: %q", h, line)
		}
		if !utf8.Valid(line) || !json.Valid(line) {
			t.Fatalf("%q: not valid UTF-8 JSON: %q", h, line)
		}
		var back event.Event
		if err := event.Decode(line, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(h) && back.Req.Path != h {
			t.Errorf("path %q came back as %q", h, back.Req.Path)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ev := range []*event.Event{sample(), sampleBodies()} {
		roundTrip(t, ev)
	}
}

func roundTrip(t *testing.T, ev *event.Event) {
	line, err := event.AppendJSON(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	var back event.Event
	if err := event.Decode(line, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := event.AppendJSON(nil, &back)
	if !bytes.Equal(line, again) {
		t.Errorf("round trip changed the line:\n%s%s", line, again)
	}
}

func TestStampTime(t *testing.T) {
	ev := sample()
	line, _ := event.AppendJSON(nil, ev)
	later := fixedTime.Add(90 * time.Minute)
	event.StampTime(line, later)
	var back event.Event
	if err := event.Decode(line, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(later.Truncate(time.Microsecond)) {
		t.Errorf("stamped %v, read back %v", later, back.Time)
	}
}

func TestAppendTimeFixedWidth(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)),
		time.Unix(0, 0),
	} {
		s := event.FormatTime(tm)
		if len(s) != event.TimeLen {
			t.Errorf("%v: %q has length %d", tm, s, len(s))
		}
		back, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !back.Equal(tm.Truncate(time.Microsecond)) {
			t.Errorf("%v: %q parses back as %v, %v", tm, s, back, err)
		}
	}
}

func TestBadIDRefused(t *testing.T) {
	ev := sample()
	ev.ID = "not-an-id"
	if _, err := event.AppendJSON(nil, ev); err == nil {
		t.Fatal("want an error for a bad id")
	}
}

func BenchmarkEncode(b *testing.B) {
	ev := sample()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = event.AppendJSON(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}
