package logs_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

const liveName = "audit.log"

// serve starts a real HTTP server with the logs routes as the sidecar
// mounts them, behind CanonicalPathsOnly.
func serve(t *testing.T, h *logs.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/logs", h.ServeIndex)
	mux.HandleFunc("GET /api/v3/logs/{name}", h.ServeFile)
	srv := httptest.NewServer(logs.CanonicalPathsOnly(mux))
	t.Cleanup(srv.Close)
	return srv
}

// rawGet sends target as the request line, byte for byte, so that no
// client cleans or re-encodes it.
func rawGet(t *testing.T, srv *httptest.Server, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", target)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func writeFile(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if !mod.IsZero() {
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// eventLines returns n encoded events, a microsecond apart from start, each with
// its number in req.path (/n/<first+i>).
func eventLines(t *testing.T, ids *event.IDs, start time.Time, first, n int) []string {
	t.Helper()
	lines := make([]string, n)
	for i := range n {
		e := &event.Event{
			ID: ids.New(), Time: start.Add(time.Duration(first+i) * time.Millisecond),
			Type: event.TypeHTTP, Level: event.LevelInfo, Service: "console", Host: "test",
			Outcome: event.OutcomeSuccess, Action: "console.widgets.create",
			Req: event.Request{Method: http.MethodPost, Path: fmt.Sprintf("/n/%d", first+i)},
			Res: event.Response{StatusCode: http.StatusCreated},
		}
		b, err := event.AppendJSON(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = strings.TrimSuffix(string(b), "\n")
	}
	return lines
}

// stream is a follow client.
type stream struct {
	res    *http.Response
	lines  chan string
	cancel context.CancelFunc
}

// follow connects a follow stream; its lines arrive on s.lines, which is
// closed when the stream ends.
func follow(t *testing.T, client *http.Client, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("follow %s: %s %s", url, res.Status, body)
	}
	s := &stream{res: res, lines: make(chan string, 1024), cancel: cancel}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.res.Body.Close()
}

// expect reads the next len(want) lines and compares them.
func (s *stream) expect(t *testing.T, want ...string) {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard, not a measurement
	for i, w := range want {
		select {
		case got, ok := <-s.lines:
			if !ok {
				t.Fatalf("stream ended after %d of %d lines; want %.80s", i, len(want), w)
			}
			if got != w {
				t.Fatalf("line %d of %d:\n got %.120s\nwant %.120s", i, len(want), got, w)
			}
		case <-timeout:
			t.Fatalf("no line %d of %d after 30s; want %.80s", i, len(want), w)
		}
	}
}

// waitEnd waits for the stream to end, failing on any further line.
func (s *stream) waitEnd(t *testing.T) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got, ok := <-s.lines:
			if !ok {
				return
			}
			t.Fatalf("unexpected line after the end: %.120s", got)
		case <-timeout:
			t.Fatal("stream still open after 30s")
		}
	}
}

func mkdir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	return dir
}

// trail is the store the handler reads dir through.
func trail(dir, filename string) *store.Store {
	return store.New(store.Options{Dir: dir, Filename: filename})
}
