package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// TestRotateForDelete: the writer rotates the live file aside after every
// line queued before the call (none still waiting goes to the new file),
// and a writer without a file says it cannot.
func TestRotateForDelete(t *testing.T) {
	dir := t.TempDir()
	f := openFile(t, dir)
	w := audit.New(audit.Options{File: f, Metrics: metrics.New(prometheus.NewRegistry())})
	defer w.Close(context.Background())
	var ids []string
	for i := range 50 {
		e := httpEvent(i)
		if err := w.Emit(e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := w.RotateForDelete(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := rotate.List(dir, "audit.log")
	if err != nil || len(files) != 2 {
		t.Fatalf("files %+v, %v; want the live file and the one rotated aside", files, err)
	}
	data, _ := os.ReadFile(files[1].Path)
	if n := strings.Count(string(data), "\n"); n != 50 || !strings.Contains(string(data), ids[49]) {
		t.Fatalf("the file rotated aside holds %d lines; want the 50 queued before", n)
	}
	if files[0].Size != 0 {
		t.Fatalf("the new live file holds %d bytes; want none", files[0].Size)
	}
	if record, err := os.ReadFile(filepath.Join(dir, rotate.AsideFile)); err != nil || !strings.Contains(string(record), files[1].Name) {
		t.Fatalf("%s: %q, %v", rotate.AsideFile, record, err)
	}

	none := audit.New(audit.Options{Metrics: metrics.New(prometheus.NewRegistry())})
	defer none.Close(context.Background())
	if err := none.RotateForDelete(context.Background()); !errors.Is(err, audit.ErrNoAsideRotation) {
		t.Fatalf("without a file: %v", err)
	}
}
