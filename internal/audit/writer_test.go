package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

func httpEvent(i int) *event.Event {
	return &event.Event{
		Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Action: "console.widgets.create", Creds: event.Creds{Type: "public-access"}, Address: "127.0.0.1",
		Req: event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/widgets/%d", i)},
		Res: event.Response{StatusCode: 201, Bytes: 96}, DurationMS: 1.5,
	}
}

func openFile(t testing.TB, dir string) *rotate.File {
	t.Helper()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 2, MaxFiles: 0})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// readEvents decodes every line of every file in dir, oldest first.
func readEvents(t testing.TB, dir string) []event.Event {
	t.Helper()
	files, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for i := len(files) - 1; i >= 0; i-- {
		data, err := os.ReadFile(files[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e event.Event
			if err := event.Decode(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %v: %q", files[i].Name, err, sc.Text())
			}
			out = append(out, e)
		}
	}
	return out
}

func TestConcurrentEmitsAreWrittenOnceInTimeOrder(t *testing.T) {
	dir := t.TempDir()
	f := openFile(t, dir)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	w := audit.New(audit.Options{File: f, Queue: 500, Service: "console", Host: "h", Metrics: m})
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := w.Emit(httpEvent(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	events := readEvents(t, dir)
	if len(events) != workers*each {
		t.Fatalf("%d events written, want %d", len(events), workers*each)
	}
	seen := make(map[string]bool, len(events))
	for i, e := range events {
		if seen[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.Time.Before(events[i-1].Time) {
			t.Fatalf("line %d eventTime %v before previous %v", i, e.Time, events[i-1].Time)
		}
		if e.Service != "console" || e.Host != "h" {
			t.Fatalf("service/host not stamped: %+v", e)
		}
	}
	if got := testutil.ToFloat64(m.Events.WithLabelValues("http", "info", "success")); got != workers*each {
		t.Fatalf("trailcar_events_total = %v, want %d", got, workers*each)
	}
	files, _ := rotate.List(dir, "audit.log")
	if len(files) < 2 {
		t.Fatalf("expected rotation, got %d files", len(files))
	}
}

// slowFile takes a while per write, and can be made to fail.
type slowFile struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	delay time.Duration
	fails atomic.Int32 // fail this many more writes
	gate  chan struct{}
}

func (s *slowFile) Write(p []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	time.Sleep(s.delay)
	if s.fails.Load() > 0 {
		s.fails.Add(-1)
		return 0, errors.New("no space left on device")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}
func (s *slowFile) MaxWrite() int { return 1 << 20 }
func (s *slowFile) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.buf.String(), "\n"), "\n")
}

func TestDropModeCountsAndReports(t *testing.T) {
	gate := make(chan struct{})
	f := &slowFile{gate: gate}
	m := metrics.Discard()
	w := audit.New(audit.Options{File: f, Queue: 10, Drop: true, Metrics: m})
	accepted, dropped := 0, 0
	for i := 0; i < 100; i++ {
		switch err := w.Emit(httpEvent(i)); {
		case err == nil:
			accepted++
		case errors.Is(err, audit.ErrDropped):
			dropped++
		default:
			t.Fatal(err)
		}
	}
	if dropped == 0 {
		t.Fatal("nothing dropped with a stuck file and a queue of 10")
	}
	close(gate)
	w.Close(context.Background())
	if got := testutil.ToFloat64(m.EventsDropped.WithLabelValues("queue_full")); int(got) != dropped {
		t.Fatalf("dropped metric %v, want %d", got, dropped)
	}
	lines := f.lines()
	reported, reports := 0, 0
	for _, l := range lines {
		var e event.Event
		event.Decode([]byte(l), &e)
		if e.Type == "system.audit.dropped" {
			var n int
			fmt.Sscanf(string(e.Details), `{"count":%d`, &n)
			reported += n
			reports++
		}
	}
	if reported != dropped {
		t.Fatalf("system.audit.dropped events report %d drops, want %d", reported, dropped)
	}
	if len(lines) != accepted+reports {
		t.Fatalf("%d lines, want %d accepted + %d reports", len(lines), accepted, reports)
	}
}

func TestBlockModeLosesNothing(t *testing.T) {
	f := &slowFile{delay: time.Millisecond}
	w := audit.New(audit.Options{File: f, Queue: 5, Metrics: metrics.Discard()})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := w.Emit(httpEvent(i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	w.Close(context.Background())
	if n := len(f.lines()); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
}

func TestWriteErrorsAreRetriedAndReported(t *testing.T) {
	f := &slowFile{}
	f.fails.Store(5)
	m := metrics.Discard()
	w := audit.New(audit.Options{File: f, Metrics: m, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	for i := 0; i < 10; i++ {
		w.Emit(httpEvent(i))
	}
	w.Close(context.Background())
	lines := f.lines()
	types := map[string]int{}
	for _, l := range lines {
		var e event.Event
		if err := event.Decode([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		types[e.Type]++
	}
	if types["http"] != 10 || types["system.audit.write_failed"] != 1 || types["system.audit.write_recovered"] != 1 {
		t.Fatalf("written types %v", types)
	}
	if got := testutil.ToFloat64(m.AuditWriteErrors); got != 5 {
		t.Fatalf("write errors metric %v, want 5", got)
	}
	if !w.Healthy() {
		t.Fatal("writer still unhealthy after recovery")
	}
}

func TestCloseGivesUpOnDeadDiskAtDeadline(t *testing.T) {
	f := &slowFile{}
	f.fails.Store(1 << 30)
	w := audit.New(audit.Options{File: f, Metrics: metrics.Discard(), RetryMin: time.Millisecond, RetryMax: time.Millisecond})
	w.Emit(httpEvent(1))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "could not be written") {
		t.Fatalf("Close = %v, want an error counting lost events", err)
	}
	if w.Healthy() {
		t.Fatal("healthy with a dead disk")
	}
}

func TestEmitAfterClose(t *testing.T) {
	w := audit.New(audit.Options{File: &slowFile{}, Metrics: metrics.Discard()})
	w.Close(context.Background())
	if err := w.Emit(httpEvent(1)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Emit after Close = %v", err)
	}
}

func TestPublishGetsLinesInOrder(t *testing.T) {
	var lines [][]byte
	w := audit.New(audit.Options{File: &slowFile{}, Metrics: metrics.Discard(),
		Publish: func(line []byte) { lines = append(lines, line) }}) // the writer's goroutine only
	for i := 0; i < 50; i++ {
		w.Emit(httpEvent(i))
	}
	w.Close(context.Background())
	if len(lines) != 50 {
		t.Fatalf("published %d lines, want 50", len(lines))
	}
	for n, line := range lines {
		var e event.Event
		if err := event.Decode(bytes.TrimSuffix(line, []byte("\n")), &e); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("/api/v3/widgets/%d", n); e.Req.Path != want {
			t.Fatalf("line %d is %s, want %s", n, e.Req.Path, want)
		}
	}
}

func TestOversizedEventIsShrunk(t *testing.T) {
	f := &slowFile{}
	w := audit.New(audit.Options{File: f, Metrics: metrics.Discard()})
	e := httpEvent(1)
	e.Req.Path = "/" + strings.Repeat("a", 600<<10)
	e.Details = []byte(`{"big":"` + strings.Repeat("b", 600<<10) + `"}`)
	if err := w.Emit(e); err != nil {
		t.Fatal(err)
	}
	w.Close(context.Background())
	lines := f.lines()
	if len(lines) != 1 || len(lines[0]) > 256<<10 {
		t.Fatalf("%d lines, first %d bytes", len(lines), len(lines[0]))
	}
	var back event.Event
	if err := event.Decode([]byte(lines[0]), &back); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(back.Details), `"truncated":true`) {
		t.Fatalf("details %s", back.Details)
	}
}

// BenchmarkWriter: events through the writer into a real rotating file,
// with integrity off and on (chain + a checkpoint every second + one
// before each rotation, signed); the ratio of the two is the integrity's
// cost (docs/integrity.md "Cost").
func BenchmarkWriter(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, sealed := range []bool{false, true} {
		name := "integrity=off"
		if sealed {
			name = "integrity=on"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 2, MaxFiles: 5})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			opts := audit.Options{File: f, Metrics: metrics.Discard(), Service: "console", Host: "bench"}
			if sealed {
				opts.Seal, opts.CheckpointEvery = integrity.NewSealer(integrity.State{}, key, "audit.log"), time.Second
			}
			w := audit.New(opts)
			b.ReportAllocs()
			b.SetBytes(int64(len(httpEventLine(b))))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				e := httpEvent(1)
				for pb.Next() {
					e.ID = ""
					if err := w.Emit(e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := w.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// httpEventLine is the line httpEvent(1) makes, for SetBytes.
func httpEventLine(b *testing.B) []byte {
	e := httpEvent(1)
	e.ID = strings.Repeat("0", 32)
	line, err := e.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	return line
}

// TestFileReplacedIsRecordedByTheWriter: a live file deleted from outside
// is noticed by the rotating file, and the writer records
// system.audit.file_replaced itself, once, in the new file, with the
// queue full and the writer blocked (when_full: block) meanwhile.
func TestFileReplacedIsRecordedByTheWriter(t *testing.T) {
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 2, CheckEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := audit.New(audit.Options{File: f, Queue: 1, Metrics: metrics.Discard()})
	if err := w.Emit(httpEvent(0)); err != nil {
		t.Fatal(err)
	}
	for w.QueueLen() > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if err := os.Remove(f.Path()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if data, _ := os.ReadFile(f.Path()); bytes.Contains(data, []byte(`"system.audit.file_replaced"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no system.audit.file_replaced within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 1; i <= 20; i++ { // a full queue must not hold the report back
		if err := w.Emit(httpEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close(context.Background())
	n := 0
	for _, e := range readEvents(t, dir) {
		if e.Type == "system.audit.file_replaced" {
			n++
			if e.Level != event.LevelError || !bytes.Contains(e.Details, []byte(`"reason":"deleted"`)) {
				t.Errorf("event %+v", e)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d file_replaced events, want 1", n)
	}
}

// TestDropsAreReportedWithoutMoreTraffic: drops made within a second of
// the last report are reported when the second is over, even if no event
// comes to wake the writer (a queue of 1 in drop mode, then silence).
func TestDropsAreReportedWithoutMoreTraffic(t *testing.T) {
	gate := make(chan struct{})
	f := &slowFile{gate: gate}
	m := metrics.Discard()
	w := audit.New(audit.Options{File: f, Queue: 1, Drop: true, Metrics: m})
	defer w.Close(context.Background())
	dropped := 0
	for round := 0; round < 2; round++ { // the second round falls inside the first report's second
		for i := 0; i < 50; i++ {
			if errors.Is(w.Emit(httpEvent(i)), audit.ErrDropped) {
				dropped++
			}
		}
		if round == 0 {
			close(gate)
			time.Sleep(50 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		reported := 0
		for _, l := range f.lines() {
			var e event.Event
			if event.Decode([]byte(l), &e) == nil && e.Type == "system.audit.dropped" {
				var n int
				fmt.Sscanf(string(e.Details), `{"count":%d`, &n)
				reported += n
				if !strings.Contains(e.Message, "queue full") {
					t.Errorf("message %q", e.Message)
				}
			}
		}
		if reported == dropped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reported %d drops 5s after the last event, metric %v, want %d", reported,
				testutil.ToFloat64(m.EventsDropped.WithLabelValues("queue_full")), dropped)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
