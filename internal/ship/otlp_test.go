package ship_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/ship"
)

// TestShipOTLPRecords: each line a LogRecord with its time, severity,
// the line as body and the event's attributes; the resource names the
// service and host; the path is /v1/logs.
func TestShipOTLPRecords(t *testing.T) {
	var mu sync.Mutex
	var got []*logspb.ResourceLogs
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req logspb.LogsData // the wire form of ExportLogsServiceRequest
		if r.URL.Path != "/otlp/v1/logs" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req.ResourceLogs...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	dir := t.TempDir()
	tr := openTrail(t, dir, false)
	tr.write(t, 3)
	tr.w.Emit(&event.Event{Type: "http", Level: event.LevelError, Outcome: event.OutcomeFailure, Req: event.Request{Method: "DELETE", Path: "/x"}, Res: event.Response{StatusCode: 500}})
	tr.close(t)
	lines, _ := filesLines(t, dir)
	m := ship.NewMetrics(prometheus.NewRegistry())
	r := startShipper(t, ship.Options{Config: shipConfig(srv+"/otlp", ship.OTLP), Dir: dir, Service: "svc", Host: "node-1", Poll: 10 * time.Millisecond, Metrics: m})
	waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= float64(lines) })
	r.stopClean(t)
	mu.Lock()
	defer mu.Unlock()
	var recs []*logspb.LogRecord
	for _, rl := range got {
		res := map[string]string{}
		for _, kv := range rl.GetResource().GetAttributes() {
			res[kv.Key] = kv.GetValue().GetStringValue()
		}
		if res["service.name"] != "svc" || res["host.name"] != "node-1" {
			t.Errorf("resource %v", res)
		}
		for _, sl := range rl.ScopeLogs {
			recs = append(recs, sl.LogRecords...)
		}
	}
	if len(recs) != lines {
		t.Fatalf("%d records for %d lines", len(recs), lines)
	}
	last := recs[len(recs)-1]
	var ev event.Event
	if err := event.Decode([]byte(last.GetBody().GetStringValue()), &ev); err != nil {
		t.Fatalf("body is not the line: %v", err)
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range last.Attributes {
		attrs[kv.Key] = kv.GetValue()
	}
	if last.SeverityText != "ERROR" || last.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_ERROR ||
		last.TimeUnixNano != uint64(ev.Time.UnixNano()) || attrs["http.response.status_code"].GetIntValue() != 500 ||
		attrs["event.id"].GetStringValue() != ev.ID || attrs["http.request.method"].GetStringValue() != "DELETE" || attrs["event.outcome"].GetStringValue() != "failure" {
		t.Errorf("record %v", last)
	}
	if first := recs[0]; first.SeverityText != "INFO" || len(first.Attributes) < 6 {
		t.Errorf("first record %v", first)
	}
}
