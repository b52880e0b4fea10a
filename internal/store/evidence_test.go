package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/store"
)

// evidenceTypes are the types no delete removes (docs/integrity.md
// "Audited deletes").
var evidenceTypes = []string{integrity.DeletedType, integrity.CheckpointType, integrity.ReopenedType}

// TestDeletesKeepEvidence: a real writer with rotation and gzip on writes
// events among which delete records, checkpoints and reopen records; every
// delete form (a filter naming their type, a glob over them, a time range
// right after them, everything, each id) removes the other events it
// matches and none of them.
func TestDeletesKeepEvidence(t *testing.T) {
	l := openLog(t, true)
	var evidence []string
	for i := 0; i < 3000; i++ {
		e := testEvent(i)
		if i%97 == 0 {
			e.Type, e.Action = evidenceTypes[i%3], ""
			e.Level, e.Outcome = event.LevelInfo, event.OutcomeSuccess
		}
		if err := l.w.Emit(e); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			evidence = append(evidence, e.ID)
		}
	}
	l.flush(t)
	waitFiles(t, l.dir, true)
	if countFiles(t, l.dir) < 3 {
		t.Fatalf("%d files: the test needs rotated, compressed ones", countFiles(t, l.dir))
	}
	st := l.store(store.Options{})
	ctx := context.Background()
	assertEvidence := func(t *testing.T) {
		t.Helper()
		var left []string
		for _, line := range allLines(t, l.dir) {
			var e event.Event
			if event.Decode(line, &e) == nil && integrity.IsEvidenceType(e.Type) {
				left = append(left, e.ID)
			}
		}
		if !slices.Equal(sorted(left), sorted(evidence)) {
			t.Fatalf("%d evidence lines left of %d", len(left), len(evidence))
		}
		assertGzipWhole(t, l.dir)
	}

	for _, typ := range evidenceTypes {
		n, err := st.Delete(ctx, filter(t, "type="+typ))
		if err != nil || n != 0 {
			t.Fatalf("delete type=%s: %d, %v; want 0 deleted", typ, n, err)
		}
	}
	assertEvidence(t)

	// A glob over every system type: the other system events go.
	before := allLines(t, l.dir)
	n, err := st.Delete(ctx, filter(t, "type=system.*"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(matching(before, filter(t, "type=system.test.*"))); n != want || want == 0 {
		t.Fatalf("delete type=system.*: %d, want %d (the system.test events)", n, want)
	}
	assertEvidence(t)

	// A record written a second ago, then a time range that holds it.
	rec := &event.Event{Type: integrity.DeletedType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess, Message: "1 events deleted"}
	if err := l.w.Emit(rec); err != nil {
		t.Fatal(err)
	}
	evidence = append(evidence, rec.ID)
	l.flush(t)
	if _, err := st.Delete(ctx, filter(t, "since="+time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano))); err != nil {
		t.Fatal(err)
	}
	assertEvidence(t)

	// Everything: only the evidence is left.
	if _, err := st.Delete(ctx, &event.Filter{}); err != nil {
		t.Fatal(err)
	}
	assertEvidence(t)
	if left := len(allLines(t, l.dir)); left != len(evidence) {
		t.Fatalf("%d lines left after deleting everything, want the %d evidence lines", left, len(evidence))
	}

	// By id: refused, naming the event and its type.
	for _, id := range evidence {
		n, err := st.DeleteID(ctx, id)
		var pe *store.ProtectedError
		if !errors.As(err, &pe) || !errors.Is(err, store.ErrProtected) || pe.ID != id || !integrity.IsEvidenceType(pe.Type) || n != 0 {
			t.Fatalf("delete id %s: %d, %v", id, n, err)
		}
	}
	assertEvidence(t)
}

// TestDeletesKeepEvidenceInAnyLayout: a delete record whose type is not
// where the writer puts it (a line another encoder wrote, keys reordered)
// (a line another encoder wrote: a space after the colon) is kept all the
// same.
func TestDeletesKeepEvidenceInAnyLayout(t *testing.T) {
	dir := t.TempDir()
	var gen event.IDs
	now := time.Now().UTC().Add(-time.Minute) // older than the delete
	var lines []byte
	var ids []string
	for i, typ := range []string{integrity.DeletedType, "http", integrity.ReopenedType, "http"} {
		id := gen.New()
		ids = append(ids, id)
		lines = fmt.Appendf(lines, `{"id":%q,"eventTime":%q,"type": %q,"level":"info","service":"console","host":"h1","outcome":"success","message":"m%d"}`+"\n",
			id, event.FormatTime(now.Add(time.Duration(i)*time.Millisecond)), typ, i)
	}
	mustDo(t, os.WriteFile(filepath.Join(dir, "audit.log"), lines, 0o600))
	st := store.New(store.Options{Dir: dir})
	n, err := st.Delete(context.Background(), &event.Filter{})
	if err != nil || n != 2 {
		t.Fatalf("delete all: %d, %v; want the 2 http events", n, err)
	}
	left := lineIDs(allLines(t, dir))
	if !slices.Equal(sorted(left), sorted([]string{ids[0], ids[2]})) {
		t.Fatalf("left %v, want the two records %v", left, []string{ids[0], ids[2]})
	}
	if _, err := st.DeleteID(context.Background(), ids[2]); !errors.Is(err, store.ErrProtected) {
		t.Fatalf("delete the reopen record by id: %v", err)
	}
}
