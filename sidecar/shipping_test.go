package sidecar_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/victorialogs"
	"github.com/trailcar/trailcar/rotate"
	"github.com/trailcar/trailcar/sidecar"
)

// TestShipToVictoriaLogs: a real sidecar under load, rotating 1 MiB
// files with gzip and sealing them, ships every line to a real
// VictoriaLogs; stopped and started again on the same dir, it sends
// nothing twice. Distinct ids in the store = documents = lines in the
// files, the sidecar's own records and checkpoints included.
func TestShipToVictoriaLogs(t *testing.T) {
	vl := victorialogs.Start(t)
	message := strings.Repeat("m", 1<<10) // ~1.5 KB lines: a rotation every ~700 requests
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Audit-Message", message)
		w.WriteHeader(201)
	}))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB = 1
	cfg.ActivityTracker.Compress = true
	cfg.Ship.Enabled = true
	cfg.Ship.URL = vl.URL + "/insert/elasticsearch?_msg_field=message&_time_field=eventTime&_stream_fields=service,host"
	cfg.Ship.Batch.MaxWait = 100 * time.Millisecond

	load := func(c *sidecartest.Sidecar, clients, perClient int) {
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: sidecartest.Wait}
				for j := range perClient {
					resp, err := client.Post(fmt.Sprintf("%s/api/v3/things/%d-%d", c.ProxyURL(), i, j), "text/plain", nil)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}

	c := sidecartest.Start(t, cfg)
	// The lag, sampled while the load runs (the newest line written minus
	// the newest shipped), logged: a bound here would be one on the
	// machine's load (the race detector, other tests), not on the shipper.
	var lags []float64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			mfs, _ := c.Reg.Gather()
			for _, mf := range mfs {
				if mf.GetName() == "trailcar_ship_lag_seconds" {
					lags = append(lags, mf.GetMetric()[0].GetGauge().GetValue())
				}
			}
		}
	}()
	start := time.Now()
	load(c, 4, 800)
	elapsed := time.Since(start)
	close(sampling)
	<-sampled
	slices.Sort(lags)
	if len(lags) > 0 {
		t.Logf("3,200 requests in %v; ship lag over %d samples: p50 %.3f s, p99 %.3f s, max %.3f s", elapsed.Round(time.Millisecond), len(lags),
			lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1])
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	first := len(c.Lines())
	pos, err := ship.LoadPosition(filepath.Join(cfg.ActivityTracker.Dir, ship.PositionFile))
	if err != nil || pos.ID == "" {
		t.Fatalf("no position after a clean stop: %+v %v", pos, err)
	}
	got, err := vl.WaitCount(first, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Docs != first || got.IDs != first {
		t.Fatalf("after the first run: store %d documents, %d ids; files %d lines", got.Docs, got.IDs, first)
	}

	c = sidecartest.Start(t, cfg) // the same dir: resumes from .ship-position
	load(c, 4, 400)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := c.Lines()
	got, err = vl.WaitCount(len(lines), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		ids[l.Event.ID] = true
	}
	files, _ := filepath.Glob(filepath.Join(cfg.ActivityTracker.Dir, "*.gz"))
	if got.Docs != len(lines) || got.IDs != len(ids) || len(ids) != len(lines) || len(files) < 3 {
		dups, _ := vl.Query(`* | stats by (id) count() c | filter c:>1 | limit 5`)
		t.Fatalf("store %d documents, %d ids; files %d lines, %d ids, %d gzip files; more than once: %v", got.Docs, got.IDs, len(lines), len(ids), len(files), dups)
	}
	t.Logf("%d lines (%d gzip files), all in VictoriaLogs once, across a clean restart", len(lines), len(files))
	checkpoints, err := vl.Query(`type:"system.audit.checkpoint" | stats count() n`)
	if err != nil || len(checkpoints) != 1 || checkpoints[0]["n"] == "0" {
		t.Errorf("no checkpoint shipped: %v %v", checkpoints, err)
	}
}

// TestShipConfigRefusedAtStart: credentials that cannot be read stop
// the sidecar at New, not in the middle of the night.
func TestShipConfigRefusedAtStart(t *testing.T) {
	cfg := sidecartest.Config(t, "http://127.0.0.1:1")
	cfg.Ship.Enabled, cfg.Ship.URL = true, "http://127.0.0.1:1/insert/elasticsearch"
	cfg.Ship.TokenFile = filepath.Join(t.TempDir(), "missing")
	_, err := sidecar.New(cfg, sidecar.Options{})
	if err == nil || !strings.Contains(err.Error(), "ship.token_file") {
		t.Fatalf("New: %v, want the missing token file named", err)
	}
}

// TestShipAcrossAuditedDelete: lines shipped, then an audited delete
// rewrites the files that hold matching events (the live file among
// them, rotated aside first) while the shipper runs: no kept line is sent
// again, the deleted lines stay in the store, and the delete record is
// shipped.
func TestShipAcrossAuditedDelete(t *testing.T) {
	vl := victorialogs.Start(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Audit-Message", strings.Repeat("d", 800))
		w.WriteHeader(201)
	}))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB = 1
	cfg.ActivityTracker.Compress = true
	cfg.Ship.Enabled = true
	cfg.Ship.URL = vl.URL + "/insert/elasticsearch?_msg_field=message&_time_field=eventTime&_stream_fields=service,host"
	cfg.Ship.Batch.MaxWait = 50 * time.Millisecond
	c := sidecartest.Start(t, cfg)
	post := func(kind string, n int) {
		client := &http.Client{Timeout: sidecartest.Wait}
		for i := range n {
			resp, err := client.Post(fmt.Sprintf("%s/api/v3/%s/%d", c.ProxyURL(), kind, i), "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	post("widgets", 300)
	post("things", 1200) // the widgets are in rotated files and the live one
	post("widgets", 300)
	before := len(c.Lines())
	if _, err := vl.WaitCount(before, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, c.AdminURL()+"/api/v3/events?action=console.widgets.*", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"deleted":600`) {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), rotate.AsideFile)); err != nil {
		t.Fatalf("the delete did not rotate the live file aside: %v", err)
	}
	post("things", 200)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := c.Lines()
	want := len(lines) + 600 // the deleted lines were shipped before the delete, and stay
	got, err := vl.WaitCount(want, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Docs != want || got.IDs != want {
		dups, _ := vl.Query(`* | stats by (id) count() c | filter c:>1 | limit 5`)
		t.Fatalf("store %d documents, %d ids; want %d (%d lines kept + 600 deleted); more than once: %v", got.Docs, got.IDs, want, len(lines), dups)
	}
	recs, err := vl.Query(`type:"system.events.deleted" | stats count() n`)
	if err != nil || len(recs) != 1 || recs[0]["n"] != "1" {
		t.Errorf("delete record in the store: %v %v", recs, err)
	}
}

// TestShipRejectedRecorded: a line the store refuses for good becomes a
// system.ship.rejected event in the trail, naming it, and that event is
// shipped in turn.
func TestShipRejectedRecorded(t *testing.T) {
	var mu sync.Mutex
	var docs []string
	rejected := ""
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var items []string
		errs := false
		parts := strings.Split(strings.TrimSpace(string(body)), "\n")
		for i := 1; i < len(parts); i += 2 {
			doc := parts[i]
			if rejected == "" && strings.Contains(doc, `"path":"/api/v3/things/bad"`) {
				rejected, errs = doc[len(`{"id":"`):len(`{"id":"`)+32], true
				items = append(items, `{"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"no"}}}`)
				continue
			}
			docs = append(docs, doc)
			items = append(items, `{"create":{"status":201}}`)
		}
		fmt.Fprintf(w, `{"errors":%v,"items":[%s]}`, errs, strings.Join(items, ","))
	}))
	defer store.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.Ship.Enabled, cfg.Ship.URL = true, store.URL
	cfg.Ship.Batch.MaxWait = 20 * time.Millisecond
	c := sidecartest.Start(t, cfg)
	resp, err := http.Post(c.ProxyURL()+"/api/v3/things/bad", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(sidecartest.Wait)
	for {
		mu.Lock()
		shipped := false
		for _, d := range docs {
			if strings.Contains(d, `"type":"system.ship.rejected"`) && rejected != "" && strings.Contains(d, rejected) && strings.Contains(d, `document_parsing_exception`) {
				shipped = true
			}
		}
		mu.Unlock()
		if shipped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no system.ship.rejected naming %q shipped; store got %d documents", rejected, len(docs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Stop(); err != nil { // before the deferred Closes, which wait for the shipper's connections
		t.Fatal(err)
	}
	if n := len(sidecartest.OfType(c.Lines(), "system.ship.rejected")); n != 1 {
		t.Errorf("%d system.ship.rejected events in the trail, want 1", n)
	}
}

// TestShipOTLPPartialSuccessRecorded: an OTLP store that answers a
// partial success (a real ExportLogsServiceResponse rejecting one record)
// becomes one system.ship.rejected event with the store's message and,
// since OTLP does not say which record, the batch it was in: its first and
// last id and eventTime. The batch is not sent again.
func TestShipOTLPPartialSuccessRecorded(t *testing.T) {
	var mu sync.Mutex
	var batches [][]string // the event.ids of each request
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collogspb.ExportLogsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ids []string
		bad := false
		for _, rec := range req.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords() {
			for _, kv := range rec.Attributes {
				switch {
				case kv.Key == "event.id":
					ids = append(ids, kv.GetValue().GetStringValue())
				case kv.Key == "url.path" && kv.GetValue().GetStringValue() == "/api/v3/things/bad":
					bad = true
				}
			}
		}
		mu.Lock()
		batches = append(batches, ids)
		mu.Unlock()
		resp := &collogspb.ExportLogsServiceResponse{}
		if bad {
			resp.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: 1, ErrorMessage: "1 log record exceeds the field limit"}
		}
		b, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	}))
	defer store.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.Ship.Enabled, cfg.Ship.URL, cfg.Ship.Protocol = true, store.URL, ship.OTLP
	cfg.Ship.Batch.MaxWait = 20 * time.Millisecond
	c := sidecartest.Start(t, cfg)
	for _, path := range []string{"/api/v3/things/ok", "/api/v3/things/bad"} {
		resp, err := http.Post(c.ProxyURL()+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var rej sidecartest.Line
	deadline := time.Now().Add(sidecartest.Wait)
	for {
		if r := sidecartest.OfType(c.Lines(), "system.ship.rejected"); len(r) > 0 {
			rej = r[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no system.ship.rejected in the trail")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(sidecartest.OfType(c.Lines(), "system.ship.rejected")); n != 1 {
		t.Errorf("%d system.ship.rejected events, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	var bad []string // the batch that held the bad request
	sent := map[string]int{}
	for _, ids := range batches {
		for _, id := range ids {
			sent[id]++
		}
		for _, l := range sidecartest.OfType(c.Lines(), "http") {
			if l.Req.Path == "/api/v3/things/bad" && slices.Contains(ids, l.ID) {
				bad = ids
			}
		}
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("id %s sent %d times", id, n)
		}
	}
	d := rej.DetailsMap
	batch, _ := d["batch"].([]any)
	if len(bad) == 0 || d["count"] != float64(1) || !strings.Contains(fmt.Sprint(d["reason"]), "1 log record exceeds the field limit") ||
		len(batch) != 2 || batch[0] != bad[0] || batch[1] != bad[len(bad)-1] || d["from"] == "" || d["to"] == "" || d["ids"] != nil {
		t.Errorf("system.ship.rejected details %v; want count 1, the store's message, the batch %v", d, bad)
	}
}
