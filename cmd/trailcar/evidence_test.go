package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// TestDeleteKeepsRecordsFromDir: files a real writer wrote (rotating,
// gzip on) holding delete and reopen records; every delete form of
// events delete --dir leaves them, and deleting one by id is exit 1
// naming why.
func TestDeleteKeepsRecordsFromDir(t *testing.T) {
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Service: "console", Host: "h1", Metrics: metrics.New(prometheus.NewRegistry())})
	var records []string
	emit := func(e *event.Event) {
		if err := w.Emit(e); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4000; i++ {
		e := &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
			Action: "console.widgets.create", Req: event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/widgets/w%d/%s", i, strings.Repeat("p", 300))}}
		if i%500 == 0 {
			e = &event.Event{Type: []string{integrity.DeletedType, integrity.ReopenedType}[i/500%2], Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
			records = append(records, "")
		}
		emit(e)
		if e.Type != event.TypeHTTP {
			records[len(records)-1] = e.ID
		}
	}
	// One more, a moment before --since 1s runs.
	last := &event.Event{Type: integrity.DeletedType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
	emit(last)
	records = append(records, last.ID)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if files, _ := rotate.List(dir, "audit.log"); len(files) < 3 || !files[len(files)-1].Compressed {
		t.Fatalf("want rotated, compressed files: %+v", files)
	}

	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"by their type", []string{"--type", integrity.DeletedType}, 0, "Deleted 0 events\n"},
		{"by a glob on it", []string{"--type", "system.*"}, 0, "Deleted 0 events\n"},
		{"the last second", []string{"--since", "1s"}, 0, ""}, // the 4000 were written within it, mostly
		{"all", []string{"--all", "--yes"}, 0, ""},
		{"all again", []string{"--all", "--yes"}, 0, "Deleted 0 events\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := evRun(t, "", append([]string{"events", "delete", "--dir", dir}, tt.args...)...)
			if code != tt.code || tt.out != "" && out != tt.out {
				t.Fatalf("exit %d, out %q, err %q; want %d, %q", code, out, errOut, tt.code, tt.out)
			}
			assertRecordsLeft(t, dir, records)
		})
	}
	for _, id := range records {
		code, out, errOut := evRun(t, "", "events", "delete", id, "--dir", dir)
		if code != 1 || out != "" || !strings.Contains(errOut, "event "+id+" is a system.") || !strings.Contains(errOut, "deletes never remove") {
			t.Fatalf("delete record %s: exit %d, out %q, err %q", id, code, out, errOut)
		}
	}
	assertRecordsLeft(t, dir, records)
	if _, out, _ := evRun(t, "", "events", "list", "--dir", dir, "--all"); len(evLines(out)) != 1+len(records) {
		t.Fatalf("want only the %d records left:\n%s", len(records), out)
	}
}

func assertRecordsLeft(t *testing.T, dir string, records []string) {
	t.Helper()
	_, out, _ := evRun(t, "", "events", "list", "--dir", dir, "--type", "system.*", "--all", "-o", "json")
	got := map[string]bool{}
	for _, l := range evLines(out) {
		var e event.Event
		if event.Decode([]byte(l), &e) == nil {
			got[e.ID] = true
		}
	}
	for _, id := range records {
		if !got[id] {
			t.Fatalf("record %s is gone (%d left of %d)", id, len(got), len(records))
		}
	}
}

// TestDeleteKeepsRecordsFromServer: against a real sidecar, a delete by
// the records' type deletes nothing and a delete by a record's id is
// exit 1 with the server's 403 reason.
func TestDeleteKeepsRecordsFromServer(t *testing.T) {
	admin, tokenFile, request := evServer(t)
	request("/api/v3/widgets/404", 2)
	auth := []string{"--server", admin, "--token-file", tokenFile}
	if code, out, errOut := evRun(t, "", append([]string{"events", "delete", "--status", "404"}, auth...)...); code != 0 || out != "Deleted 2 events\n" {
		t.Fatalf("delete: exit %d %q %s", code, out, errOut)
	}
	if code, out, errOut := evRun(t, "", append([]string{"events", "delete", "--type", integrity.DeletedType}, auth...)...); code != 0 || out != "Deleted 0 events\n" {
		t.Fatalf("delete by type: exit %d %q %s", code, out, errOut)
	}
	if code, out, errOut := evRun(t, "", append([]string{"events", "delete", "--since", "1s"}, auth...)...); code != 0 {
		t.Fatalf("delete --since 1s: exit %d %q %s", code, out, errOut)
	}
	var first event.Event
	for deadline := time.Now().Add(5 * time.Second); first.ID == ""; time.Sleep(20 * time.Millisecond) {
		code, out, _ := evRun(t, "", append([]string{"events", "list", "--type", integrity.DeletedType, "-o", "json"}, auth...)...)
		lines := evLines(out)
		if code == 0 && len(lines) == 3 {
			event.Decode([]byte(lines[2]), &first) // oldest: the delete by status
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 3 delete records: exit %d %q", code, out)
		}
	}
	if !strings.Contains(first.Message, "2 events deleted") {
		t.Fatalf("the first record: %+v", first)
	}
	code, out, errOut := evRun(t, "", append([]string{"events", "delete", first.ID}, auth...)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "deletes never remove") {
		t.Fatalf("delete the record by id: exit %d %q %q", code, out, errOut)
	}
}
