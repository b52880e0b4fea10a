package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/victorialogs"
	"github.com/trailcar/trailcar/rotate"
)

// TestShipBinary: trailcar ship as its own process against a real
// VictoriaLogs: it ships every line, serves its metrics, holds the lock
// against a second shipper, exits 0 at SIGTERM having saved its position,
// writes nothing else into the dir, and started again sends only what is
// new.
func TestShipBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	vl := victorialogs.Start(t)
	bin := coreBuildBinary(t, t.TempDir())
	dir := t.TempDir()
	write := func(n int) {
		f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, Compress: true})
		if err != nil {
			t.Fatal(err)
		}
		w := audit.New(audit.Options{File: f, Service: "shipcli", Host: "h", Metrics: metrics.Discard()})
		for i := range n {
			w.Emit(&event.Event{Type: "http", Level: "info", Outcome: "success", Action: "cli.things.create",
				Req: event.Request{Method: "POST", Path: fmt.Sprintf("/things/%d", i)}, Message: strings.Repeat("z", 500)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	config := filepath.Join(t.TempDir(), "trailcar.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf(`service: shipcli
activity_tracker: { dir: %q }
ship:
  url: %q
  batch: { max_wait: 100ms }
`, dir, vl.URL+"/insert/elasticsearch?_msg_field=message&_time_field=eventTime")), 0o600)

	type proc struct {
		cmd    *exec.Cmd
		stderr *sidecartest.Buffer // written by the process's copier while the test reads it
	}
	start := func(args ...string) proc {
		stderr := &sidecartest.Buffer{}
		cmd := exec.Command(bin, append([]string{"ship", "--config", config}, args...)...)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return proc{cmd, stderr}
	}
	stop := func(p proc) {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("trailcar ship after SIGTERM: %v\n%s", err, p.stderr)
		}
	}
	lines := func() int {
		n := 0
		infos, _ := rotate.List(dir, "audit.log")
		for _, in := range infos {
			r, err := openAny(in)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			n += bytes.Count(b, []byte("\n"))
		}
		return n
	}

	write(3000)
	p := start("--metrics-listen", "127.0.0.1:0")
	want := lines()
	got, err := vl.WaitCount(want, 60*time.Second)
	if err != nil || got.Docs != want || got.IDs != want {
		t.Fatalf("store %+v (%v), files %d lines\n%s", got, err, want, p.stderr)
	}
	addr := regexp.MustCompile(`"msg":"metrics","listen":"([^"]+)"`).FindStringSubmatch(p.stderr.String())
	if addr == nil {
		t.Fatalf("no metrics address on stderr:\n%s", p.stderr)
	}
	resp, err := http.Get("http://" + addr[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(fmt.Sprintf(`trailcar_ship_lines_total{result="shipped"} %d`, want))) || !bytes.Contains(body, []byte("trailcar_ship_up 1")) {
		t.Errorf("metrics:\n%s", grepLines(body, "trailcar_ship"))
	}

	second := exec.Command(bin, "ship", "--config", config)
	out, err := second.CombinedOutput()
	if code := exitCodeOf(err); code != 1 || !strings.Contains(string(out), "another shipper") {
		t.Errorf("a second shipper on the dir: exit %d, %s", code, out)
	}
	stop(p)

	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if strings.Join(names, " ") != ".ship-lock .ship-position" {
		t.Errorf("dot files in the dir: %v", names)
	}

	write(2000)
	p = start()
	want = lines()
	got, err = vl.WaitCount(want, 60*time.Second)
	stop(p)
	if err != nil || got.Docs != want || got.IDs != want {
		t.Fatalf("after a restart: store %+v (%v), files %d lines\n%s", got, err, want, p.stderr)
	}

	// SIGKILL in the middle of a catch-up, twice: at most the batch in
	// flight (max_lines, 1000) is sent twice per kill, and nothing is lost.
	write(20000)
	before := got.Docs
	for range 2 {
		p = start()
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, _ := vl.Count()
			if c.Docs > before+2000 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.cmd.Process.Kill()
		p.cmd.Wait()
		c, _ := vl.Count()
		before = c.Docs
	}
	p = start()
	want = lines()
	got, err = vl.WaitCount(want, 60*time.Second)
	stop(p)
	if err != nil || got.IDs != want || got.Docs-got.IDs > 2*1000 {
		t.Fatalf("after two SIGKILLs: store %+v (%v), files %d lines; want every id, at most 2000 twice", got, err, want)
	}
	t.Logf("two SIGKILLs during a catch-up of 20,000 lines: %d lines, %d ids in the store, %d sent twice", want, got.IDs, got.Docs-got.IDs)
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// openAny reads a log file, through gzip when compressed.
func openAny(in rotate.Info) (io.Reader, error) {
	b, err := os.ReadFile(in.Path)
	if err != nil || !in.Compressed {
		return bytes.NewReader(b), err
	}
	return gzip.NewReader(bytes.NewReader(b))
}
