package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// TestSealedAcrossRotation: a sealed writer under load across several
// rotations of a 1 MiB file, with checkpoints falling due between and
// inside batches: every file ends with its checkpoint (the rotated ones
// at the hand-off, the live one at Close), the chain verifies, each event
// is written once, and what was published and counted is what the files
// hold.
func TestSealedAcrossRotation(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := metrics.New(prometheus.NewRegistry())
	var published bytes.Buffer // the writer's goroutine only, until Close
	w := audit.New(audit.Options{
		File: f, Metrics: m, Service: "console", Host: "h",
		Seal: integrity.NewSealer(integrity.State{}, key, "audit.log"), CheckpointEvery: 5 * time.Millisecond,
		Publish: func(line []byte) { published.Write(line) },
	})
	const workers, each = 4, 3000 // ~4 MiB of lines: three rotations or more
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := w.Emit(httpEvent(g*each + i)); err != nil {
					t.Error(err)
					return
				}
				if i%500 == 0 {
					time.Sleep(10 * time.Millisecond) // let a checkpoint fall due
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	snap, err := store.New(store.Options{Dir: dir, Filename: "audit.log"}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	rep, err := integrity.Verify(context.Background(), snap, pub)
	var table strings.Builder
	rep.WriteTable(&table)
	if err != nil || !rep.Intact {
		t.Fatalf("verify: %v\n%s", err, table.String())
	}
	files, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d files, want three rotations or more", len(files))
	}
	var inFiles []byte
	for i := len(files) - 1; i >= 0; i-- {
		data, err := os.ReadFile(files[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if last := lines[len(lines)-1]; !bytes.Contains(last, []byte(`"type":"`+integrity.CheckpointType+`"`)) {
			t.Errorf("%s ends with %.120s, want its checkpoint", files[i].Name, last)
		}
		inFiles = append(inFiles, data...)
	}
	if !bytes.Equal(published.Bytes(), inFiles) {
		t.Errorf("published %d bytes, the files hold %d: not the same lines", published.Len(), len(inFiles))
	}

	events := readEvents(t, dir)
	seen := map[string]bool{}
	var http, checkpoints int
	for _, e := range events {
		if seen[e.ID] {
			t.Fatalf("id %s written twice", e.ID)
		}
		seen[e.ID] = true
		switch e.Type {
		case "http":
			http++
		case integrity.CheckpointType:
			checkpoints++
		default:
			t.Errorf("unexpected %s", e.Type)
		}
	}
	if http != workers*each {
		t.Errorf("%d http lines, want %d", http, workers*each)
	}
	if checkpoints <= len(files) {
		t.Errorf("%d checkpoints for %d files: want the timed ones too", checkpoints, len(files))
	}
	if got := testutil.ToFloat64(m.IntegrityCheckpoints); int(got) != checkpoints {
		t.Errorf("integrity_checkpoints_total %v, the files hold %d", got, checkpoints)
	}
	if got := testutil.ToFloat64(m.Events.WithLabelValues("system", "info", "success")); int(got) != checkpoints {
		t.Errorf("events_total for system/info/success %v, want %d checkpoints", got, checkpoints)
	}
}

// stuckFile takes its first ok writes, then refuses every write; it is
// small, so a batch takes several writes.
type stuckFile struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	ok     int
	writes int
}

func (s *stuckFile) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writes >= s.ok {
		return 0, errStuck
	}
	s.writes++
	return s.buf.Write(p)
}

func (s *stuckFile) MaxWrite() int { return 1000 } // two of httpEvent's lines

var errStuck = errors.New("no space left on device")

// TestGiveUpCountsExactlyWhatIsLost: a batch that takes several writes,
// on a disk that stops taking them part-way, until Close's deadline: the
// events in the file, plus those Close says are lost, are every event
// accepted, plus the system.audit.write_failed record (lost too, in the
// batch after); each line in the file is whole and was published.
func TestGiveUpCountsExactlyWhatIsLost(t *testing.T) {
	f := &stuckFile{ok: 4}
	var published int
	w := audit.New(audit.Options{File: f, Metrics: metrics.Discard(), Linger: 50 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: time.Millisecond,
		Publish: func([]byte) { published++ }})
	const n = 40
	for i := range n {
		if err := w.Emit(httpEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if err == nil {
		t.Fatal("Close on a stuck disk: no error")
	}
	var lost int
	if _, serr := fmt.Sscanf(err.Error(), "close audit writer: %d events could not be written", &lost); serr != nil {
		t.Fatalf("Close = %v", err)
	}
	f.mu.Lock()
	data := f.buf.Bytes()
	f.mu.Unlock()
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, l := range lines {
		var e event.Event
		if err := event.Decode(l, &e); err != nil || e.Type != "http" {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	if len(lines) == 0 || len(lines) >= n || len(lines)+lost != n+1 {
		t.Fatalf("%d events written and %d lost, want some written and %d in all", len(lines), lost, n+1)
	}
	if published != len(lines) {
		t.Fatalf("published %d lines, the file holds %d", published, len(lines))
	}
}
