package ship_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
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

// TestShipOTLPAnswers: the OTLP/HTTP answers, each from a real
// ExportLogsServiceResponse or google.rpc.Status. A 503 with Retry-After
// waits as told and sends again; a 200 with a partial success counts the
// rejected records, reports them once with the batch they were in, and
// does not send again; a 400 rejects the whole batch, for good; a 500 is
// sent again; a partial success that rejects nothing delivers the batch.
func TestShipOTLPAnswers(t *testing.T) {
	type request struct {
		at     time.Time
		first  string // event.id of the batch's first record
		last   string
		n      int
		status int
	}
	var mu sync.Mutex
	var reqs []request
	protobuf := func(w http.ResponseWriter, status int, m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(status)
		w.Write(b)
	}
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collogspb.ExportLogsServiceRequest // the real request type, decoding what the shipper sent
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
			return
		}
		recs := req.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()
		id := func(rec *logspb.LogRecord) string {
			for _, kv := range rec.Attributes {
				if kv.Key == "event.id" {
					return kv.GetValue().GetStringValue()
				}
			}
			return ""
		}
		mu.Lock()
		n := len(reqs) + 1
		rq := request{at: time.Now(), first: id(recs[0]), last: id(recs[len(recs)-1]), n: len(recs)}
		mu.Unlock()
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			rq.status = http.StatusServiceUnavailable
			protobuf(w, rq.status, &statuspb.Status{Code: 14, Message: "warming up"})
		case 2:
			rq.status = http.StatusOK
			protobuf(w, rq.status, &collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{
				RejectedLogRecords: 3, ErrorMessage: "3 log records older than the retention"}})
		case 3:
			rq.status = http.StatusBadRequest
			protobuf(w, rq.status, &statuspb.Status{Code: 3, Message: "cannot decode the log records"})
		case 4:
			rq.status = http.StatusInternalServerError
			http.Error(w, "internal error", rq.status)
		case 5:
			rq.status = http.StatusOK
			protobuf(w, rq.status, &collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{
				ErrorMessage: "attribute url.path is deprecated"}})
		default:
			rq.status = http.StatusOK
			protobuf(w, rq.status, &collogspb.ExportLogsServiceResponse{})
		}
		mu.Lock()
		reqs = append(reqs, rq)
		mu.Unlock()
	}))
	dir := t.TempDir()
	tr := openTrail(t, dir, false)
	tr.write(t, 45)
	tr.close(t)
	lines, _ := filesLines(t, dir)
	cfg := shipConfig(srv, ship.OTLP)
	cfg.Batch.MaxLines = 10
	var rmu sync.Mutex
	var reports []ship.Report
	m := ship.NewMetrics(prometheus.NewRegistry())
	r := startShipper(t, ship.Options{Config: cfg, Dir: dir, Poll: 10 * time.Millisecond, Metrics: m,
		Report: func(rep ship.Report) { rmu.Lock(); reports = append(reports, rep); rmu.Unlock() }})
	waitFor(t, func() bool {
		return testutil.ToFloat64(m.Lines.WithLabelValues("shipped"))+testutil.ToFloat64(m.Lines.WithLabelValues("rejected")) >= float64(lines)
	})
	r.stopClean(t)

	mu.Lock()
	defer mu.Unlock()
	rmu.Lock()
	defer rmu.Unlock()
	if len(reqs) < 6 {
		t.Fatalf("%d requests: %+v", len(reqs), reqs)
	}
	if reqs[1].first != reqs[0].first || reqs[1].n != 10 {
		t.Errorf("after the 503, request %+v, want the same batch again (%+v)", reqs[1], reqs[0])
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Errorf("sent again %v after a 503 with Retry-After: 1", gap)
	}
	if reqs[2].first == reqs[1].first || reqs[3].first == reqs[2].first {
		t.Errorf("a partial success or a 400 sent again: %+v", reqs[:4])
	}
	if reqs[4].first != reqs[3].first {
		t.Errorf("after the 500, request %+v, want the same batch again (%+v)", reqs[4], reqs[3])
	}
	for i, rq := range reqs[5:] {
		if rq.first == reqs[4].first {
			t.Errorf("request %d sends the batch taken with a note again", i+6)
		}
	}
	if got := testutil.ToFloat64(m.Lines.WithLabelValues("rejected")); got != 13 {
		t.Errorf("rejected %v, want 13 (3 of a partial success, 10 of a 400)", got)
	}
	if got := testutil.ToFloat64(m.Lines.WithLabelValues("shipped")); got != float64(lines-13) {
		t.Errorf("shipped %v, want %d", got, lines-13)
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("error")); got != 2 {
		t.Errorf("requests sent again %v, want 2 (the 503 and the 500)", got)
	}
	if len(reports) != 2 {
		t.Fatalf("reports %+v, want two", reports)
	}
	p, b := reports[0], reports[1]
	if p.Kind != "rejected" || p.Count != 3 || !strings.Contains(p.Reason, "3 log records older than the retention") ||
		len(p.Batch) != 2 || p.Batch[0] != reqs[1].first || p.Batch[1] != reqs[1].last || p.From == "" || p.To < p.From || len(p.IDs) != 0 {
		t.Errorf("partial success report %+v, want 3 rejected in the batch %s…%s", p, reqs[1].first, reqs[1].last)
	}
	if b.Kind != "rejected" || b.Count != 10 || !strings.Contains(b.Reason, "400") || !strings.Contains(b.Reason, "cannot decode the log records") ||
		len(b.Batch) != 2 || b.Batch[0] != reqs[2].first || b.Batch[1] != reqs[2].last {
		t.Errorf("400 report %+v, want the whole batch %s…%s", b, reqs[2].first, reqs[2].last)
	}
	pos, err := ship.LoadPosition(filepath.Join(dir, ship.PositionFile))
	st, _ := os.Stat(filepath.Join(dir, "audit.log"))
	if err != nil || pos.Offset != st.Size() {
		t.Errorf("position %+v (%v), want the end of audit.log (%d bytes)", pos, err, st.Size())
	}
}

// TestShipRejectionsDoNotFeedThemselves: a store that refuses every
// batch (a 400), and a Report that writes a system.ship.rejected record
// into the trail, as the sidecar does. Each batch of requests is
// reported once; the batch that holds only those reports is counted,
// not reported again, so the reports do not go on one a batch forever.
func TestShipRejectionsDoNotFeedThemselves(t *testing.T) {
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "cannot parse common params from request", http.StatusBadRequest)
	}))
	dir := t.TempDir()
	tr := openTrail(t, dir, false)
	tr.write(t, 20)
	cfg := shipConfig(srv, ship.OTLP)
	cfg.Batch.MaxLines = 10
	var mu sync.Mutex
	reports := 0
	m := ship.NewMetrics(prometheus.NewRegistry())
	r := startShipper(t, ship.Options{Config: cfg, Dir: dir, Poll: 10 * time.Millisecond, Metrics: m,
		Report: func(rep ship.Report) {
			mu.Lock()
			reports++
			mu.Unlock()
			tr.w.Emit(&event.Event{Type: "system.ship.rejected", Level: event.LevelError, Outcome: event.OutcomeFailure, Message: rep.Reason})
		}})
	waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("rejected")) >= 22 })
	time.Sleep(time.Second) // ten max_waits: time for a loop to show
	r.stopClean(t)
	mu.Lock()
	defer mu.Unlock()
	if got := testutil.ToFloat64(m.Lines.WithLabelValues("rejected")); reports != 2 || got != 22 {
		t.Errorf("%d reports, %v lines rejected; want 2 reports (one per batch of requests) and 22 (20 requests, 2 reports)", reports, got)
	}
}
