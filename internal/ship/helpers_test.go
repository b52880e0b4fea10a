package ship_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/rotate"
)

// trail is a real writer over a real rotating log dir.
type trail struct {
	dir  string
	file *rotate.File
	w    *audit.Writer
}

func openTrail(t *testing.T, dir string, compress bool) *trail {
	t.Helper()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, MaxFiles: 100, Compress: compress})
	if err != nil {
		t.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Service: "shiptest", Host: "h1", Metrics: metrics.Discard()})
	tr := &trail{dir: dir, file: f, w: w}
	t.Cleanup(func() { tr.close(t) })
	return tr
}

func (tr *trail) close(t *testing.T) {
	if tr.w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.w.Close(ctx); err != nil {
		t.Error(err)
	}
	tr.file.Close()
	tr.w = nil
}

// write emits n events of about 600 bytes each.
func (tr *trail) write(t *testing.T, n int) {
	t.Helper()
	pad := strings.Repeat("x", 400)
	for i := range n {
		e := &event.Event{
			Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
			Action: "shiptest.things.create", Creds: event.Creds{UUID: "u1", Name: fmt.Sprintf("user%d", i%8), Type: "user"},
			Req: event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/things/%d", i)},
			Res: event.Response{StatusCode: 201}, Message: pad,
		}
		if err := tr.w.Emit(e); err != nil {
			t.Fatal(err)
		}
	}
}

// filesLines counts the lines of every file in dir, gzip ones read
// through gzip, and the distinct event ids among them.
func filesLines(t *testing.T, dir string) (lines int, ids map[string]bool) {
	t.Helper()
	infos, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	ids = map[string]bool{}
	for _, in := range infos {
		f, err := os.Open(in.Path)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if in.Compressed {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			lines++
			if id, ok := event.LineID(sc.Bytes()); ok {
				ids[string(id)] = true
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return lines, ids
}

// running is a shipper in its goroutine.
type running struct {
	s    *ship.Shipper
	stop context.CancelFunc
	done chan error
}

func startShipper(t *testing.T, opts ship.Options) *running {
	t.Helper()
	s, err := ship.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// stopClean is a SIGTERM: finish the batch in flight, save, return nil.
func (r *running) stopClean(t *testing.T) {
	t.Helper()
	r.s.Stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("shipper after Stop: %v", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("shipper did not stop in 30 s")
	}
}

func shipConfig(url, protocol string) ship.Config {
	c := ship.DefaultConfig()
	c.Enabled, c.URL, c.Protocol = true, url, protocol
	c.Batch.MaxWait = 100 * time.Millisecond
	return c
}

// vlURL is the elasticsearch ingest URL of a VictoriaLogs at base, with
// the event's fields mapped as docs/shipping.md shows.
func vlURL(base string) string {
	return base + "/insert/elasticsearch?_msg_field=message&_time_field=eventTime&_stream_fields=service,host"
}

func rotateList(dir string) ([]rotate.Info, error) { return rotate.List(dir, "audit.log") }
