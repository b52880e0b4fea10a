package logs_test

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
)

// resources are what a stream could leak.
type resources struct {
	goroutines, fds, inotifyWatches int
}

func measure(t *testing.T) resources {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	watches := 0
	for _, fd := range fds {
		f, err := os.Open(filepath.Join("/proc/self/fdinfo", fd.Name()))
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "inotify wd:") {
				watches++
			}
		}
		f.Close()
	}
	return resources{goroutines: runtime.NumGoroutine(), fds: len(fds), inotifyWatches: watches}
}

// settled measures once the counts stop changing: goroutines of earlier
// tests (a stopped tail's poller ends within its 250ms period) must not
// inflate the baseline.
func settled(t *testing.T) resources {
	t.Helper()
	last := measure(t)
	for range 100 {
		time.Sleep(300 * time.Millisecond)
		now := measure(t)
		if now == last {
			return now
		}
		last = now
	}
	t.Fatalf("the counts never settled: %+v", last)
	return last
}

// TestFollowLeaksNothing connects 100 follow clients, makes each of them
// receive an appended line and follow a rotation, disconnects them, and
// checks that goroutines, open files and inotify watches come back to
// where they were.
func TestFollowLeaksNothing(t *testing.T) {
	dir := mkdir(t)
	live := filepath.Join(dir, liveName)
	writeFile(t, live, "start\n", time.Time{})
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName), Poll: 50 * time.Millisecond})
	transport := &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}
	client := &http.Client{Transport: transport}
	t.Cleanup(transport.CloseIdleConnections)
	before := settled(t)

	const clients = 100
	streams := make([]*stream, clients)
	for i := range streams {
		streams[i] = follow(t, client, srv.URL+"/api/v3/logs/audit.log?tail=1&follow=true")
	}
	for _, s := range streams {
		s.expect(t, "start")
	}
	appendFile(t, live, "appended\n")
	for _, s := range streams {
		s.expect(t, "appended")
	}
	if err := os.Rename(live, filepath.Join(dir, "audit-2026-11-22T08-15-30.123.log")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live, "after rotation\n")
	for _, s := range streams {
		s.expect(t, "after rotation")
	}
	during := measure(t)
	// The measurement sees the streams (each holds at least a server
	// handler, a client reader and their two sockets, plus the file).
	if during.goroutines < before.goroutines+2*clients || during.fds < before.fds+2*clients {
		t.Fatalf("with %d streams open: %+v, before: %+v; the measurement does not see them", clients, during, before)
	}
	t.Logf("before: %+v; with %d streams: %+v", before, clients, during)

	for _, s := range streams {
		s.close()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		after := measure(t)
		if after.goroutines <= before.goroutines && after.fds <= before.fds && after.inotifyWatches <= before.inotifyWatches {
			t.Logf("after the streams left: %+v", after)
			return
		}
		if time.Now().After(deadline) {
			var stacks strings.Builder
			pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Fatalf("20s after the clients left: %+v, before: %+v\n%s", after, before, stacks.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
