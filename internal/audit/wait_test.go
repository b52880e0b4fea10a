package audit_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// TestEmitWritten: EmitWritten returns once the line is in the file (read
// back at once); while the disk refuses writes it waits until ctx ends,
// and the line, queued, is written when the disk takes it again.
func TestEmitWritten(t *testing.T) {
	dir := t.TempDir()
	rf, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	f := &refusingFile{File: rf}
	w := audit.New(audit.Options{File: f, Metrics: metrics.Discard(), Linger: 20 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	for i := range 20 {
		e := httpEvent(i)
		if err := w.EmitWritten(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(rf.Path()); !strings.Contains(string(data), e.ID) {
			t.Fatalf("event %d not in the file when EmitWritten returned", i)
		}
	}

	f.refuse.Store(true)
	e := httpEvent(99)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.EmitWritten(ctx, e); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("while writes fail: %v, want the deadline", err)
	}
	f.refuse.Store(false)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(rf.Path()); !strings.Contains(string(data), e.ID) {
		t.Fatal("the event waited for was not written once the disk took writes again")
	}
}
