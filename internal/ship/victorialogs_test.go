package ship_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/victorialogs"
)

// TestShipEveryLineOnceToVictoriaLogs: a real writer rotating 1 MiB
// files with gzip, a shipper following it into a real single-node
// VictoriaLogs; a clean stop and a restart in the middle of the writing.
// The store ends with one document per line of the files, every id once.
func TestShipEveryLineOnceToVictoriaLogs(t *testing.T) {
	vl := victorialogs.Start(t)
	dir := t.TempDir()
	tr := openTrail(t, dir, true)
	opts := ship.Options{Config: shipConfig(vlURL(vl.URL), ship.Elasticsearch), Dir: dir, Service: "shiptest", Host: "h1", Poll: 20 * time.Millisecond}
	reg := prometheus.NewRegistry()
	opts.Metrics = ship.NewMetrics(reg)

	r := startShipper(t, opts)
	tr.write(t, 6000) // ~3.5 MiB: rotations while shipping
	time.Sleep(300 * time.Millisecond)
	r.stopClean(t)
	tr.write(t, 6000) // written while no shipper runs
	r = startShipper(t, opts)
	tr.write(t, 3000)
	tr.close(t)

	lines, ids := filesLines(t, dir)
	if len(ids) != lines || lines < 15000 {
		t.Fatalf("files: %d lines, %d ids", lines, len(ids))
	}
	c, err := vl.WaitCount(lines, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r.stopClean(t)
	if c.IDs != lines || c.Docs != lines {
		dups, _ := vl.Query(`* | stats by (id) count() c | filter c:>1 | limit 5`)
		t.Fatalf("store: %d documents, %d distinct ids; files: %d lines (want all, each once); ids more than once: %v", c.Docs, c.IDs, lines, dups)
	}
	rotated, _ := filesCount(dir)
	t.Logf("%d lines in %d files (gzip), %d documents and ids in VictoriaLogs", lines, rotated, c.Docs)
	// The first shipper's count is gone with it; the second's covers what it sent.
	if got := testutil.ToFloat64(opts.Metrics.Lines.WithLabelValues("shipped")); got < 1 || got > float64(lines) {
		t.Errorf("shipped metric %v of %d lines", got, lines)
	}
}

func filesCount(dir string) (int, error) {
	infos, err := rotateList(dir)
	return len(infos), err
}

// TestShipCatchUpAfterStoreOutage: the store is down while lines are
// written (and rotated, and compressed); the shipper retries, then
// catches up when it is back, with nothing lost and nothing twice.
func TestShipCatchUpAfterStoreOutage(t *testing.T) {
	vl := victorialogs.Start(t)
	dir := t.TempDir()
	tr := openTrail(t, dir, true)
	reg := prometheus.NewRegistry()
	m := ship.NewMetrics(reg)
	r := startShipper(t, ship.Options{Config: shipConfig(vlURL(vl.URL), ship.Elasticsearch), Dir: dir, Poll: 20 * time.Millisecond, Metrics: m})
	tr.write(t, 1000)
	waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= 1000 })

	vl.Stop()
	tr.write(t, 8000) // ~5 MiB: rotated and compressed while the store is down
	waitFor(t, func() bool { return testutil.ToFloat64(m.Up) == 0 })
	// Compressed files count at their size on disk: these lines compress
	// well, so the bytes are far fewer than the 5 MiB written. The gauges
	// are set at each attempt to send.
	waitFor(t, func() bool {
		return testutil.ToFloat64(m.LagBytes) >= 100<<10 && testutil.ToFloat64(m.LagSeconds) > 0
	})
	vl.Restart()
	start := time.Now()
	tr.close(t)
	lines, _ := filesLines(t, dir)
	waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= float64(lines) })
	caughtUp := time.Since(start)
	r.stopClean(t)
	c, err := vl.WaitCount(lines, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.IDs != lines || c.Docs != lines {
		t.Fatalf("store: %d documents, %d distinct ids; files: %d lines", c.Docs, c.IDs, lines)
	}
	if testutil.ToFloat64(m.Up) != 1 || testutil.ToFloat64(m.LagSeconds) != 0 {
		t.Errorf("after catch-up: up %v, lag %v s", testutil.ToFloat64(m.Up), testutil.ToFloat64(m.LagSeconds))
	}
	t.Logf("%d lines; caught up %v after the store came back; %v failed requests meanwhile", lines, caughtUp.Round(time.Millisecond), testutil.ToFloat64(m.Requests.WithLabelValues("error")))
}

// TestShipOTLPToVictoriaLogs: the same trail over OTLP/HTTP protobuf;
// VictoriaLogs keeps the attributes as fields, so event.id is counted.
func TestShipOTLPToVictoriaLogs(t *testing.T) {
	vl := victorialogs.Start(t)
	dir := t.TempDir()
	tr := openTrail(t, dir, true)
	reg := prometheus.NewRegistry()
	m := ship.NewMetrics(reg)
	r := startShipper(t, ship.Options{Config: shipConfig(vl.URL+"/insert/opentelemetry", ship.OTLP), Dir: dir, Service: "shiptest", Host: "h1", Poll: 20 * time.Millisecond, Metrics: m})
	tr.write(t, 3000)
	tr.close(t)
	lines, _ := filesLines(t, dir)
	waitFor(t, func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= float64(lines) })
	r.stopClean(t)
	c, err := vl.WaitCountField("event.id", lines, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.IDs != lines || c.Docs != lines {
		t.Fatalf("store: %d documents, %d distinct event.id; files: %d lines", c.Docs, c.IDs, lines)
	}
	rows, err := vl.Query(`event.action:"shiptest.things.create" | limit 1`)
	if err != nil || len(rows) != 1 {
		t.Fatalf("query: %v %v", rows, err)
	}
	row := rows[0]
	if row["service.name"] != "shiptest" || row["http.request.method"] != "POST" || row["http.response.status_code"] != "201" || row["severity_text"] != "INFO" || row["_time"] == "" {
		t.Errorf("record fields: %v", row)
	}
}

// TestShipToVictoriaLogsCluster: two storage nodes behind an insert and
// select front (-storageNode), the lines spread over them by stream. The
// front is stopped while lines are written, and then one storage node;
// both come back and every line is there once.
//
// The front acknowledges a batch before its storage nodes have it, and
// stopping it drops what it still holds (its log: "dropping 1064038
// bytes of data, since there are no available storage nodes"): 2,000
// acknowledged lines were lost that way when the front was stopped at
// once. So the test stops it once what it took is searchable; see
// docs/shipping.md "Tested against VictoriaLogs".
func TestShipToVictoriaLogsCluster(t *testing.T) {
	front, storage := victorialogs.StartCluster(t, 2)
	dir := t.TempDir()
	tr := openTrail(t, dir, true)
	m := ship.NewMetrics(prometheus.NewRegistry())
	url := front.URL + "/insert/elasticsearch?_msg_field=message&_time_field=eventTime&_stream_fields=service,host,creds.name"
	r := startShipper(t, ship.Options{Config: shipConfig(url, ship.Elasticsearch), Dir: dir, Poll: 20 * time.Millisecond, Metrics: m})
	shipped := func(n int) func() bool {
		return func() bool { return testutil.ToFloat64(m.Lines.WithLabelValues("shipped")) >= float64(n) }
	}
	tr.write(t, 2000)
	waitFor(t, shipped(2000))
	if _, err := front.WaitCount(2000, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	front.Stop()
	tr.write(t, 3000)
	waitFor(t, func() bool { return testutil.ToFloat64(m.Up) == 0 })
	front.Restart()
	waitFor(t, shipped(5000))
	storage[1].Stop()
	tr.write(t, 3000)
	waitFor(t, shipped(8000))
	storage[1].Restart()
	tr.close(t)
	lines, _ := filesLines(t, dir)
	waitFor(t, shipped(lines))
	r.stopClean(t)
	c, err := front.WaitCount(lines, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := storage[0].Count()
	b, _ := storage[1].Count()
	if c.IDs != lines || c.Docs != lines {
		t.Fatalf("cluster: %d documents, %d distinct ids; files: %d lines; storage nodes %+v %+v\n%s", c.Docs, c.IDs, lines, a, b, front.Log())
	}
	if a.Docs == 0 || b.Docs == 0 {
		t.Errorf("storage nodes hold %+v and %+v: the front did not spread the lines", a, b)
	}
	t.Logf("%d lines over 2 storage nodes (%d and %d), each once, through a stopped front and a stopped storage node; %v requests sent again",
		lines, a.Docs, b.Docs, testutil.ToFloat64(m.Requests.WithLabelValues("error")))
}
