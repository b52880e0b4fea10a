package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

func TestListPagesNewestFirst(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			l := openLog(t, compress)
			l.emitN(t, 0, 4000)
			l.flush(t)
			waitFiles(t, l.dir, compress)
			want := matching(allLines(t, l.dir), &event.Filter{})
			if len(want) != 4000 {
				t.Fatalf("%d lines in the files, want 4000", len(want))
			}
			st := l.store(store.Options{})
			for _, limit := range []int{13, 100, 1000} {
				t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
					assertSame(t, pageAll(t, st, nil, limit), want)
				})
			}
		})
	}
}

// waitFiles waits until rotation made several files and, with compress,
// until the rotated ones are compressed.
func waitFiles(t *testing.T, dir string, compress bool) {
	t.Helper()
	for i := 0; ; i++ {
		files, err := rotate.List(dir, "audit.log")
		if err != nil {
			t.Fatal(err)
		}
		done := len(files) >= 3
		for _, f := range files {
			done = done && (f.Live || f.Compressed == compress)
		}
		if done {
			return
		}
		if i > 500 {
			t.Fatalf("files never settled: %+v", files)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assertSame(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestListFilters(t *testing.T) {
	l := openLog(t, true)
	l.emitN(t, 0, 4000)
	l.flush(t)
	waitFiles(t, l.dir, true)
	lines := allLines(t, l.dir)
	mid := func(i int) string {
		var e event.Event
		if err := event.Decode(lines[i], &e); err != nil {
			t.Fatal(err)
		}
		return e.Time.Format(time.RFC3339Nano)
	}
	st := l.store(store.Options{})
	queries := []string{
		"level=error",
		"service=console&host=h1&outcome=failure",
		"type=system.*",
		"type=http&action=console.users.*",
		"user=bob",
		"user=u-3&method=DELETE",
		"status=404",
		"status=5xx",
		"resource=ch-1*",
		"resource=/api/v3/widgets/w1*",
		"since=" + mid(3000),
		"before=" + mid(1000),
		"since=" + mid(2500) + "&before=" + mid(1500) + "&level=info",
		"user=nobody",
	}
	for _, q := range queries {
		t.Run(q, func(t *testing.T) {
			f := filter(t, q)
			want := matching(lines, f)
			assertSame(t, pageAll(t, st, f, 250), want)
			var streamed []string
			if _, err := st.Each(context.Background(), f, nil, func(line []byte) error {
				streamed = append(streamed, string(line))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			assertSame(t, streamed, want)
		})
	}
}

func TestListSkipsAndCountsBadLines(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	var evs []*event.Event
	ids := event.IDs{Now: func() time.Time { return base }}
	for i := 0; i < 5; i++ {
		e := testEvent(i)
		e.ID, e.Time, e.Service, e.Host = ids.New(), base.Add(time.Duration(i)*time.Second), "s", "h"
		evs = append(evs, e)
	}
	writeFixture(t, dir, []string{"audit.log"}, [][]*event.Event{evs})
	path := filepath.Join(dir, "audit.log")
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	// A torn line, garbage, an empty line, a line in another key order,
	// and a tail without newline (a write in progress): not events, except
	// the reordered one, which decodes.
	reordered := `{"eventTime":"2026-11-22T08:00:02.500000Z","id":"` + ids.New() + `","type":"http","level":"info","service":"s","host":"h","outcome":"success"}` + "\n"
	bad := lines[0] + lines[1][:40] + "\n" + "garbage\n" + "\n" + lines[2] + reordered + lines[3] + lines[4] + `{"id":"01`
	if err := os.WriteFile(path, []byte(bad), 0o640); err != nil {
		t.Fatal(err)
	}
	p, err := store.New(store.Options{Dir: dir}).List(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) != 5 || p.Stats.Invalid != 3 {
		t.Fatalf("%d events, %d invalid; want 5 and 3: %s", len(p.Lines), p.Stats.Invalid, p.Lines)
	}
	if !strings.HasPrefix(string(p.Lines[2]), `{"id":`) || !strings.Contains(string(p.Lines[2]), "08:00:02.5") {
		t.Fatalf("the reordered line is not handed out in the encoder's form: %s", p.Lines[2])
	}
}

// TestCursorTellsApartEventsOfOneMicrosecond: many events share each
// eventTime, one group across a file boundary; every page size visits
// each event once, also when the cursor's own event is deleted between
// pages.
func TestCursorTellsApartEventsOfOneMicrosecond(t *testing.T) {
	base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	var all []*event.Event
	var ids event.IDs
	for i := 0; i < 40; i++ {
		e := testEvent(i)
		e.ID, e.Time, e.Service, e.Host = ids.New(), base.Add(time.Duration(i/8)*time.Microsecond), "s", "h"
		all = append(all, e)
	}
	names := []string{"audit.log", "audit-2026-11-22T08-00-00.000.log.gz", "audit-2026-11-22T07-00-00.000.log"}
	for _, limit := range []int{1, 2, 3, 5, 8, 100} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			dir := t.TempDir()
			// The group of i/8 == 2 (events 16..23) spans the two newest files.
			writeFixture(t, dir, names, [][]*event.Event{all[20:], all[10:20], all[:10]})
			want := matching(allLines(t, dir), &event.Filter{})
			assertSame(t, pageAll(t, store.New(store.Options{Dir: dir}), nil, limit), want)
		})
	}
	t.Run("cursor event deleted", func(t *testing.T) {
		dir := t.TempDir()
		writeFixture(t, dir, names, [][]*event.Event{all[20:], all[10:20], all[:10]})
		st := store.New(store.Options{Dir: dir})
		want := matching(allLines(t, dir), &event.Filter{})
		p, err := st.List(context.Background(), store.Query{Limit: 19})
		if err != nil {
			t.Fatal(err)
		}
		// The 19th newest is event 21, in the middle of its group.
		if n, err := st.DeleteID(context.Background(), p.Next.ID); err != nil || n != 1 {
			t.Fatalf("delete cursor event: %d, %v", n, err)
		}
		got := lines(p.Lines)
		got = append(got, pageAll2(t, st, p.Next)...)
		assertSame(t, got, want)
	})
}

func lines(b [][]byte) []string {
	out := make([]string, len(b))
	for i, l := range b {
		out[i] = string(l)
	}
	return out
}

func pageAll2(t *testing.T, st *store.Store, after *store.Cursor) []string {
	var out []string
	for after != nil {
		p, err := st.List(context.Background(), store.Query{Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, lines(p.Lines)...)
		after = p.Next
	}
	return out
}

// TestPagingWhileWritingAndRotating: while a writer appends fast enough
// to rotate (and compress) the files, paging sees every event that
// existed when it began exactly once, and no event twice.
//
// "Existed" means written: the events are flushed into the files before
// the first page. An event still queued then is stamped later than every
// line in the files, so it is newer than the first page and rightly never
// enters a page that resumes from a cursor; a flush that only waited for
// an empty queue let the writer still hold its last batch (the live
// file's worth) on a loaded machine, and those events were "seen 0
// times". Rotations are waited for between pages, not hoped for.
func TestPagingWhileWritingAndRotating(t *testing.T) {
	l := openLog(t, true)
	before := l.emitN(t, 0, 5000)
	l.flush(t)
	st := l.store(store.Options{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 5000; !stop.Load(); i++ {
			if err := l.emit(testEvent(i)); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	files := countFiles(t, l.dir)
	seen := map[string]int{}
	var after *store.Cursor
	for page := 0; ; page++ {
		p, err := st.List(context.Background(), store.Query{Limit: 150, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range p.Lines {
			id, _ := event.LineID(line)
			seen[string(id)]++
		}
		if p.Next == nil {
			break
		}
		after = p.Next
		if page%10 == 0 {
			// The files rotate before the next page (whose cursor
			// then points into a file renamed, and soon compressed).
			sidecartest.Eventually(t, "a rotation between pages", func() bool { return countFiles(t, l.dir) > files })
			files = countFiles(t, l.dir)
		} else {
			time.Sleep(2 * time.Millisecond) // let the writer get ahead
		}
	}
	stop.Store(true)
	wg.Wait()
	for _, id := range before {
		if seen[id] != 1 {
			t.Fatalf("event %s seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s seen %d times", id, n)
		}
	}
}

func countFiles(t *testing.T, dir string) int {
	files, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

func TestListRejectsBadLimit(t *testing.T) {
	st := store.New(store.Options{Dir: t.TempDir()})
	for _, limit := range []int{-1, 1001} {
		if _, err := st.List(context.Background(), store.Query{Limit: limit}); err == nil {
			t.Errorf("limit %d accepted", limit)
		}
	}
	p, err := st.List(context.Background(), store.Query{})
	if err != nil || len(p.Lines) != 0 || p.Next != nil {
		t.Fatalf("empty dir: %+v, %v", p, err)
	}
}

// TestPageStopsAtItsByteBudget: a page stops before the event that would
// pass MaxBytes, and its cursor goes on from there: every event once.
func TestPageStopsAtItsByteBudget(t *testing.T) {
	l := openLog(t, false)
	ids := l.emitN(t, 0, 300) // ~700 bytes each
	l.flush(t)
	st := l.store(store.Options{})
	seen := map[string]bool{}
	var after *store.Cursor
	pages := 0
	for {
		p, err := st.List(context.Background(), store.Query{Limit: 1000, MaxBytes: 10 << 10, After: after})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		size := 0
		for _, line := range p.Lines {
			size += len(line)
			id, _ := event.LineID(line)
			if seen[string(id)] {
				t.Fatalf("event %s on two pages", id)
			}
			seen[string(id)] = true
		}
		if size > 10<<10 {
			t.Fatalf("page of %d bytes, budget 10 KiB", size)
		}
		if p.Next == nil {
			break
		}
		after = p.Next
	}
	if len(seen) != len(ids) || pages < 20 {
		t.Fatalf("%d events over %d pages, want %d over 20+", len(seen), pages, len(ids))
	}
}
