package audit_test

import (
	"context"
	"testing"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestEmitDoesNotAllocate: queueing an event that has its id, and
// writing it, allocates nothing an event once the buffers have grown: the
// encode buffer is pooled, the queue's two batches and the chunker's
// slices are reused (the hot path; docs/performance.md "Encoding and
// writing"). The writer's goroutine is counted too (allocations are counted
// process-wide), and AllocsPerRun rounds down, so a rare allocation per
// batch passes.
func TestEmitDoesNotAllocate(t *testing.T) {
	if sidecartest.RaceEnabled {
		t.Skip("the race detector's sync.Pool drops items")
	}
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "integrity=off", true: "integrity=on"}[sealed], func(t *testing.T) {
			opts := audit.Options{File: openFile(t, t.TempDir()), Metrics: metrics.Discard(), Linger: -1}
			if sealed {
				opts.Seal = integrity.NewSealer(integrity.State{}, nil, "audit.log")
			}
			w := audit.New(opts)
			defer w.Close(context.Background())
			e := httpEvent(1)
			e.ID = "0123456789abcdef0123456789abcdef"
			for range 1000 { // grow the buffers
				w.Emit(e)
			}
			if n := testing.AllocsPerRun(1000, func() { w.Emit(e) }); n != 0 {
				t.Fatalf("Emit allocates %v times an event", n)
			}
		})
	}
}
