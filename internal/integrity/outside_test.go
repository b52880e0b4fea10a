package integrity_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// TestOutsideRotationAcrossRestart: a live file moved away and reopened
// (the writer's Reopen, as at SIGHUP), then a restart that recovers the
// chain from the file starting with the reopen record: verify reports the
// moved checkpoints rotated-out and the rest ok; a reopen record edited
// (its from, or its seq) is tampering.
func TestOutsideRotationAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	run := func(events int, between func(w *audit.Writer)) {
		f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := recoverDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		w := audit.New(audit.Options{File: f, Seal: integrity.NewSealer(st, nil, "audit.log"), CheckpointEvery: time.Hour,
			Service: "console", Host: "h1", Metrics: metrics.Discard()})
		emit := func(n int) {
			for i := range n {
				e := &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
					Req: event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/widgets/%d", i)}}
				if err := w.Emit(e); err != nil {
					t.Fatal(err)
				}
			}
		}
		emit(events)
		if between != nil {
			between(w)
			emit(events)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run(100, nil) // a first run, sealed at its stop
	run(100, func(w *audit.Writer) {
		if err := os.Rename(filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit.log.1")); err != nil {
			t.Fatal(err)
		}
		if err := w.Reopen(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	run(100, nil) // recovers from the file that starts with the reopen record

	rep, err := verifyDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Intact || len(rep.Files) != 2 || rep.Files[0].Status != integrity.StatusRotatedOut ||
		!strings.Contains(rep.Files[0].Detail, "checkpoints up to 2") || !strings.Contains(rep.Files[0].Detail, "audit.log.1") ||
		rep.Files[1].Status != integrity.StatusOK {
		t.Fatalf("report: %+v", rep)
	}

	live := filepath.Join(dir, "audit.log")
	data, _ := os.ReadFile(live)
	first, rest, _ := strings.Cut(string(data), "\n")
	rec, ok := integrity.ParseReopen([]byte(first))
	if !ok {
		t.Fatalf("the live file does not start with a reopen record: %s", first)
	}
	for name, edit := range map[string]string{
		"from":  strings.Replace(first, rec.From.String(), strings.Repeat("0", 64), 1),
		"seq":   strings.Replace(first, fmt.Sprintf(`"seq":%d`, rec.Seq), fmt.Sprintf(`"seq":%d`, rec.Seq+1), 1),
		"chain": strings.Replace(first, rec.Chain.String(), strings.Repeat("1", 64), 1),
	} {
		t.Run(name, func(t *testing.T) {
			if edit == first {
				t.Fatal("nothing edited")
			}
			os.WriteFile(live, []byte(edit+"\n"+rest), 0o640)
			defer os.WriteFile(live, data, 0o640)
			if rep, err := verifyDir(dir, nil); err != nil || rep.Intact {
				t.Fatalf("an edited reopen record passes: %+v %v", rep, err)
			}
		})
	}
}

// TestReopenInPlaceAfterAGap: a reopen record in place (SIGHUP with the
// file where it was) explains no gap: a rotated file deleted before the
// file it starts is missing, not rotated out.
func TestReopenInPlaceAfterAGap(t *testing.T) {
	dir := t.TempDir()
	run := func(reopenFirst bool) {
		f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := recoverDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		w := audit.New(audit.Options{File: f, Seal: integrity.NewSealer(st, nil, "audit.log"), CheckpointEvery: time.Hour,
			Service: "console", Host: "h1", Metrics: metrics.Discard()})
		if reopenFirst {
			if err := w.Reopen(context.Background()); err != nil { // nothing to seal: the record is the file's first line
				t.Fatal(err)
			}
		}
		for i := range 50 {
			if err := w.Emit(&event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
				Req: event.Request{Method: "POST", Path: fmt.Sprintf("/w/%d", i)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := f.Rotate(); err != nil { // trailcar's own rotation: the file stays in the dir
			t.Fatal(err)
		}
	}
	run(false)
	run(false)
	run(true)
	if rep, err := verifyDir(dir, nil); err != nil || !rep.Intact {
		t.Fatalf("before the deletion: %+v %v", rep, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	if len(files) != 3 {
		t.Fatalf("want 3 rotated files: %v", files)
	}
	os.Remove(files[1]) // the one before the file the record starts
	rep, err := verifyDir(dir, nil)
	if err != nil || rep.Intact || rep.Files[1].Status != integrity.StatusMissing || !strings.Contains(rep.Files[1].Detail, "checkpoints 2 to 2") {
		t.Fatalf("after the deletion: %+v %v", rep, err)
	}
}
