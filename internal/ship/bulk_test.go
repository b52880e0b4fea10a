package ship_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/ship"
)

// fakeBulk is an Elasticsearch _bulk endpoint that answers as told.
type fakeBulk struct {
	mu       sync.Mutex
	requests int
	ids      map[string]int // documents kept, by _id
	fail     int            // answer 503 to this many requests first
	reject   string         // answer 400 to the item with this _id
	raw      [][]byte       // every document line, as received
	header   http.Header
}

func (f *fakeBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.header = r.Header.Clone()
	if r.URL.Path != "/base/_bulk" || r.URL.Query().Get("keep") != "1" || r.Header.Get("Content-Type") != "application/x-ndjson" {
		http.Error(w, "bad request line: "+r.URL.String(), http.StatusBadRequest)
		return
	}
	if f.fail > 0 {
		f.fail--
		http.Error(w, "store busy", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	type item map[string]map[string]any
	var items []item
	errs := false
	for sc.Scan() {
		var action struct {
			Create struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"create"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || action.Create.Index != "audit" {
			http.Error(w, "bad action "+sc.Text(), http.StatusBadRequest)
			return
		}
		if !sc.Scan() {
			http.Error(w, "action without document", http.StatusBadRequest)
			return
		}
		id := action.Create.ID
		switch {
		case id == f.reject:
			errs = true
			items = append(items, item{"create": {"status": 400, "error": map[string]string{"type": "mapper_parsing_exception", "reason": "bad field"}}})
		case f.ids[id] > 0:
			errs = true
			items = append(items, item{"create": {"status": 409, "error": map[string]string{"type": "version_conflict_engine_exception"}}})
		default:
			f.ids[id]++
			f.raw = append(f.raw, append([]byte(nil), sc.Bytes()...))
			items = append(items, item{"create": {"status": 201}})
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"errors": errs, "items": items})
}

// TestShipBulk: the _bulk requests as §9 lays them out (action with
// _index and the event's id, then the line's own bytes), headers and
// basic auth, a store that answers 503 (sent again), an item answered
// 409 (delivered) and one answered 400 (rejected, reported, not sent
// again); the position after the last line.
func TestShipBulk(t *testing.T) {
	fake := &fakeBulk{ids: map[string]int{}, fail: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	tr := openTrail(t, dir, false)
	tr.write(t, 50)
	tr.close(t)
	lines, ids := filesLines(t, dir)

	// One id is in the store already (a batch sent before a crash).
	var some string
	for id := range ids {
		some = id
		break
	}
	fake.ids[some] = 1
	var rejectedID string
	for id := range ids {
		if id != some {
			rejectedID = id
			break
		}
	}
	fake.reject = rejectedID

	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	cfg := shipConfig(srv.URL+"/base/?keep=1", ship.Elasticsearch)
	cfg.Index, cfg.User, cfg.PasswordFile = "audit", "shipper", pw
	cfg.Headers = map[string]string{"X-Tenant": "t1"}
	cfg.Batch.MaxLines = 20
	var reports []ship.Report
	var rmu sync.Mutex
	reg := prometheus.NewRegistry()
	m := ship.NewMetrics(reg)
	r := startShipper(t, ship.Options{Config: cfg, Dir: dir, Poll: 10 * time.Millisecond, Metrics: m,
		Report: func(rep ship.Report) { rmu.Lock(); reports = append(reports, rep); rmu.Unlock() }})
	waitFor(t, func() bool {
		return testutil.ToFloat64(m.Lines.WithLabelValues("shipped"))+testutil.ToFloat64(m.Lines.WithLabelValues("rejected")) >= float64(lines)
	})
	r.stopClean(t)

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.ids) != lines-1 {
		t.Errorf("store has %d ids, want %d (all but the rejected one)", len(fake.ids), lines-1)
	}
	for id, n := range fake.ids {
		if n != 1 {
			t.Errorf("id %s stored %d times", id, n)
		}
	}
	for _, doc := range fake.raw {
		if _, ok := event.LineID(doc); !ok {
			t.Errorf("document is not the line as written: %.100s", doc)
		}
	}
	if u, p, ok := (&http.Request{Header: fake.header}).BasicAuth(); !ok || u != "shipper" || p != "s3cret" || fake.header.Get("X-Tenant") != "t1" {
		t.Errorf("auth %q %q %v, X-Tenant %q", u, p, ok, fake.header.Get("X-Tenant"))
	}
	rmu.Lock()
	if len(reports) != 1 || reports[0].Kind != "rejected" || reports[0].Count != 1 || len(reports[0].IDs) != 1 || reports[0].IDs[0] != rejectedID {
		t.Errorf("reports %+v, want one rejection of %s", reports, rejectedID)
	}
	rmu.Unlock()
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("error")); got != 2 {
		t.Errorf("error requests %v, want 2 (the 503s)", got)
	}
	if got := testutil.ToFloat64(m.Lines.WithLabelValues("rejected")); got != 1 {
		t.Errorf("rejected %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Up); got != 1 {
		t.Errorf("up %v after a delivered batch", got)
	}
	pos, err := ship.LoadPosition(filepath.Join(dir, ship.PositionFile))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "audit.log"))
	if pos.File != "audit.log" || pos.Offset != st.Size() || !ids[pos.ID] {
		t.Errorf("position %+v, want the end of audit.log (%d bytes)", pos, st.Size())
	}
}

// TestShipBatchBounds: max_bytes splits the batches; a line larger than
// max_bytes still goes, alone.
func TestShipBatchBounds(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		sizes = append(sizes, bytes.Count(b, []byte("\n"))/2)
		mu.Unlock()
		w.Write([]byte(`{"errors":false,"items":[]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	tr := openTrail(t, dir, false)
	tr.write(t, 100) // ~600 bytes a line
	tr.close(t)
	cfg := shipConfig(srv.URL, ship.Elasticsearch)
	cfg.Batch.MaxBytes = 6000
	reg := prometheus.NewRegistry()
	m := ship.NewMetrics(reg)
	r := startShipper(t, ship.Options{Config: cfg, Dir: dir, Poll: 10 * time.Millisecond, Metrics: m})
	waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= 100 })
	r.stopClean(t)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range sizes {
		if n < 1 || n > 10 {
			t.Errorf("a batch of %d lines of ~600 bytes under max_bytes 6000", n)
		}
		total += n
	}
	if total != 100 {
		t.Errorf("%d lines sent, want 100", total)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ship.ByteSize{"1MiB": 1 << 20, "512KiB": 512 << 10, "1048576": 1 << 20, "2 MB": 2 << 20, "1_000": 1000} {
		got, err := ship.ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.5MiB", "-1", "MiB", "1TiB", "1e6"} {
		if _, err := ship.ParseByteSize(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if s := ship.ByteSize(1 << 20).String(); s != "1MiB" {
		t.Errorf("String %q", s)
	}
}

func newFake(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
