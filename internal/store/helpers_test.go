package store_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// liveLog is a real audit log: a rotate.File written by an audit.Writer.
type liveLog struct {
	dir  string
	file *rotate.File
	w    *audit.Writer
	// queued counts the events queued through emit, written the lines of
	// them the writer has put in the files: flush waits for the one to
	// reach the other.
	queued, written atomic.Int64
}

func openLog(t testing.TB, compress bool) *liveLog {
	t.Helper()
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, Compress: compress})
	if err != nil {
		t.Fatal(err)
	}
	l := &liveLog{dir: dir, file: f}
	l.w = audit.New(audit.Options{File: f, Service: "console", Host: "h1", Metrics: metrics.New(prometheus.NewRegistry()),
		// Called after the lines are written, in order. The writer's own
		// records (system.audit.*) were not queued by emit.
		Publish: func(line []byte) {
			if !bytes.Contains(line, []byte(`"type":"system.audit.`)) {
				l.written.Add(1)
			}
		},
	})
	t.Cleanup(l.close)
	return l
}

func (l *liveLog) close() {
	l.w.Close(context.Background())
	l.file.Close()
}

// emit queues e, counted for flush.
func (l *liveLog) emit(e *event.Event) error {
	if err := l.w.Emit(e); err != nil {
		return err
	}
	l.queued.Add(1)
	return nil
}

// flush waits until every event emitted so far is in the files. An empty
// queue is not enough: the writer may still hold the batch it took last,
// and on a loaded machine writing it (a few MiB, rotating) takes longer
// than any fixed sleep; a reader starting then would miss its events.
// The writer publishes lines only once they are written, so the count of
// published lines is the barrier.
func (l *liveLog) flush(t testing.TB) {
	t.Helper()
	want := l.queued.Load()
	sidecartest.Eventually(t, fmt.Sprintf("the writer to write %d events", want), func() bool { return l.written.Load() >= want })
}

func (l *liveLog) store(opts store.Options) *store.Store {
	opts.Dir = l.dir
	if opts.Lock == nil {
		opts.Lock = l.file
	}
	if opts.RotateLive == nil {
		opts.RotateLive = l.w.RotateForDelete // as the sidecar does
	}
	return store.New(opts)
}

// testEvent is event i of a varied stream: levels, types, users, paths
// and statuses change with i.
func testEvent(i int) *event.Event {
	e := &event.Event{
		Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Action:  []string{"console.components.create", "console.users.login", "console.widgets.delete"}[i%3],
		Creds:   event.Creds{UUID: fmt.Sprintf("u-%d", i%7), Name: []string{"alice", "bob", "carol"}[i%3], Type: "token"},
		Address: "10.0.0.1",
		Req:     event.Request{Method: []string{"POST", "PUT", "DELETE"}[i%3], Path: fmt.Sprintf("/api/v3/widgets/w%d", i)},
		Res:     event.Response{StatusCode: []int{200, 201, 404, 500}[i%4], Bytes: int64(i % 1000)},
		Message: fmt.Sprintf("event %d %s", i, strings.Repeat("m", 300)), // ~700 bytes a line
	}
	if e.Res.StatusCode >= 400 {
		e.Level, e.Outcome = event.LevelError, event.OutcomeFailure
	}
	if i%11 == 0 {
		e.Type, e.Action = "system.test.tick", ""
	}
	if i%5 == 0 {
		e.Resource = event.Resource{Type: "channels", ID: fmt.Sprintf("ch-%d", i%13)}
	}
	if i%17 == 0 {
		e.Details = []byte(fmt.Sprintf(`{"n":%d,"nested":{"a":[1,2,{"level":"x"}]}}`, i))
	}
	return e
}

// emitN emits events from..from+n-1 and returns their ids.
func (l *liveLog) emitN(t testing.TB, from, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		e := testEvent(i)
		if err := l.emit(e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// allLines returns every line of every audit file in dir, newest first,
// decoding gzip: the truth the store is checked against.
// A file compressed meanwhile (listed plain, gone when read) makes it
// list again.
func allLines(t testing.TB, dir string) [][]byte {
	t.Helper()
	for try := 0; try < 100; try++ {
		if out, ok := tryAllLines(t, dir); ok {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("audit files keep changing")
	return nil
}

func tryAllLines(t testing.TB, dir string) ([][]byte, bool) {
	files, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Compressed {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(zr); err != nil {
				t.Fatal(err)
			}
			data = buf.Bytes()
		}
		var lines [][]byte
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 8<<20)
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
		for i := len(lines) - 1; i >= 0; i-- {
			out = append(out, lines[i])
		}
	}
	return out, true
}

// matching keeps the lines that decode and pass f.
func matching(lines [][]byte, f *event.Filter) []string {
	var out []string
	for _, l := range lines {
		var e event.Event
		if event.Decode(l, &e) == nil && f.Match(&e) {
			out = append(out, string(l))
		}
	}
	return out
}

func filter(t testing.TB, query string) *event.Filter {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	f, err := event.ParseFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	return &f
}

// pageAll pages through everything with limit, returning the lines.
func pageAll(t testing.TB, st *store.Store, f *event.Filter, limit int) []string {
	t.Helper()
	var out []string
	var after *store.Cursor
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatal("paging does not end")
		}
		p, err := st.List(context.Background(), store.Query{Filter: f, Limit: limit, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Lines {
			out = append(out, string(l))
		}
		if p.Next == nil {
			return out
		}
		if len(p.Lines) != limit {
			t.Fatalf("page of %d lines with a next cursor, limit %d", len(p.Lines), limit)
		}
		// The cursor goes through its string form, as over HTTP.
		c, err := store.ParseCursor(p.Next.String())
		if err != nil {
			t.Fatal(err)
		}
		after = &c
	}
}

// writeFixture writes files of encoded events: files[0] is the live file,
// then rotated ones, newest first; events in each file oldest first.
// Rotated files whose name ends in .gz are gzipped.
func writeFixture(t testing.TB, dir string, names []string, files [][]*event.Event) {
	t.Helper()
	for i, evs := range files {
		var buf bytes.Buffer
		for _, e := range evs {
			line, err := event.AppendJSON(nil, e)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(line)
		}
		data := buf.Bytes()
		if filepath.Ext(names[i]) == ".gz" {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data = z.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, names[i]), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func writeEvents(t *testing.T, path string, n int) []string {
	t.Helper()
	var buf []byte
	var ids []string
	var gen event.IDs
	for i := range n {
		e := testEvent(i)
		e.ID, e.Time, e.Action = gen.New(), time.Now(), "secret.leak"
		var err error
		if buf, err = event.AppendJSON(buf, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	mustDo(t, os.WriteFile(path, buf, 0o600))
	return ids
}

// gzipFile compresses path as rotate does: path.gz written through a
// temporary file and renamed into place, then path removed.
func gzipFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	mustDo(t, err)
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".gz.tmp")
	out, err := os.Create(tmp)
	mustDo(t, err)
	zw := gzip.NewWriter(out)
	_, err = zw.Write(data)
	mustDo(t, err)
	mustDo(t, zw.Close())
	mustDo(t, out.Close())
	mustDo(t, os.Rename(tmp, path+".gz"))
	mustDo(t, os.Remove(path))
}

// rotateLive rotates the live file as lumberjack does: renamed to a
// backup name with the time now, a new empty live file created.
func rotateLive(t *testing.T, dir string) {
	t.Helper()
	backup := "audit-" + time.Now().UTC().Format("2006-01-02T15-04-05.000") + ".log"
	mustDo(t, os.Rename(filepath.Join(dir, "audit.log"), filepath.Join(dir, backup)))
	mustDo(t, os.WriteFile(filepath.Join(dir, "audit.log"), nil, 0o600))
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	mustDo(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		mustDo(t, err)
		mustDo(t, os.WriteFile(filepath.Join(to, e.Name()), data, 0o600))
	}
	return to
}

func readLines(r io.Reader) ([][]byte, error) {
	var lines [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines, sc.Err()
}

// lineIDs returns the ids of the events among lines (checkpoints are
// events too: they count like the others).
func lineIDs(lines [][]byte) []string {
	var ids []string
	for _, l := range lines {
		if id, ok := event.LineID(l); ok {
			ids = append(ids, string(id))
		}
	}
	return ids
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func intersect(s, keep []string) []string {
	var out []string
	for _, x := range s {
		if slices.Contains(keep, x) {
			out = append(out, x)
		}
	}
	return out
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
