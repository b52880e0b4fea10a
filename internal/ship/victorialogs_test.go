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
		t.Fatalf("store: %d documents, %d distinct ids; files: %d lines (want all, each once)", c.Docs, c.IDs, lines)
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
