package main

// The operator's habits (anchore-cli, kubectl, journalctl), each typed
// into the real binary against a real `trailcar serve` process.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// habitServe is a `trailcar serve` process on fixed ports and a fixed log
// dir, so that it can be stopped and started again as the same server.
type habitServe struct {
	t                    *testing.T
	bin, cfg             string
	proxyAddr, adminAddr string
	p                    *coreProcess
}

func (s *habitServe) start() {
	s.t.Helper()
	s.p = coreStartProcess(s.t, s.bin, nil, "serve", "--config", s.cfg, "--listen", s.proxyAddr, "--admin-listen", s.adminAddr)
	s.p.waitStderr("[event tracker] enabled logging")
	deadline := time.Now().Add(coreWait)
	for {
		resp, err := http.Get("http://" + s.adminAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("admin port not up: %v\n%s", err, s.p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post makes n tracked requests and returns their ids.
func (s *habitServe) post(path string, n int) []string {
	s.t.Helper()
	var ids []string
	for range n {
		status, id := corePost(s.t, "http://"+s.proxyAddr+path, "{}")
		if status/100 != 2 {
			s.t.Fatalf("POST %s: %d", path, status)
		}
		ids = append(ids, id)
	}
	return ids
}

// habitRun runs the binary to its end.
func habitRun(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// jsonIDs are the ids of JSON Lines output.
func jsonIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, l := range evLines(out) {
		var e event.Event
		if err := event.Decode([]byte(l), &e); err != nil {
			t.Fatalf("not an event: %q", l)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func TestOperatorHabitsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a sidecar process")
	}
	bin := coreBuildBinary(t, t.TempDir())

	// No server at all: follow tries for 30 s, then exit 1. Started first,
	// so its wait overlaps the rest.
	deadFollow := make(chan string, 1)
	deadAddr := coreFreeAddr(t)
	go func() {
		start := time.Now()
		code, out, errOut := habitRun(t, bin, nil, "events", "follow", "--server", "http://"+deadAddr)
		took := time.Since(start)
		if code != 1 || out != "" || !strings.Contains(errOut, "no server answered for 30s") || took < 30*time.Second || took > 45*time.Second {
			deadFollow <- fmt.Sprintf("follow with no server: exit %d after %v, stdout %q, stderr %q", code, took, out, errOut)
			return
		}
		deadFollow <- ""
	}()

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /api/v3/widgets/w1 is the resource widgets:w1.
		parts := strings.Split(r.URL.Path, "/")
		w.Header().Set("X-Audit-Resource", parts[len(parts)-2]+":"+parts[len(parts)-1])
		w.WriteHeader(201)
	}))
	defer up.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("tok-habits\n"), 0o600)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("upstream: %q\nservice: habits\nactivity_tracker:\n  dir: %q\nadmin:\n  token_file: %q\n",
		up.URL, filepath.Join(dir, "logs"), tokenFile)), 0o600)
	srv := &habitServe{t: t, bin: bin, cfg: cfg, proxyAddr: coreFreeAddr(t), adminAddr: coreFreeAddr(t)}
	srv.start()
	env := []string{"TRAILCAR_SERVER=http://" + srv.adminAddr, "TRAILCAR_TOKEN=tok-habits", "TRAILCAR_CA_FILE="}
	widgets := srv.post("/api/v3/widgets/w1", 3)
	srv.post("/api/v3/gadgets/g1", 2)
	cli := func(args ...string) (int, string, string) { return habitRun(t, bin, env, args...) }
	same := func(name string, a, b []string) {
		t.Helper()
		ca, oa, ea := cli(a...)
		cb, ob, eb := cli(b...)
		if ca != 0 || cb != 0 || oa != ob || oa == "" {
			t.Errorf("%s: %q exit %d (%s) and %q exit %d (%s) differ:\n%s\n---\n%s", name, a, ca, ea, b, cb, eb, oa, ob)
		}
	}
	// Wait for the five events (written just after their answers).
	deadline := time.Now().Add(coreWait)
	for {
		_, out, _ := cli("events", "list", "--method", "POST", "-o", "json")
		if len(evLines(out)) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 POST events not listed: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("anchore-cli spellings", func(t *testing.T) {
		same("event = events", []string{"event", "list", "--method", "POST"}, []string{"events", "list", "--method", "POST"})
		same("ls = list", []string{"events", "ls", "--method", "POST"}, []string{"events", "list", "--method", "POST"})
		same("--event_type = --type", []string{"event", "list", "--event_type", "htt*", "--method", "POST", "-o", "json"}, []string{"events", "list", "--type", "htt*", "--method", "POST", "-o", "json"})
		same("--resource_type = --resource-type", []string{"event", "ls", "--resource_type", "widg*", "-o", "json"}, []string{"events", "list", "--resource-type", "widg*", "-o", "json"})
		_, out, _ := cli("events", "list", "--resource-type", "widg*", "-o", "json")
		if got := jsonIDs(t, out); len(got) != 3 || got[0] != widgets[2] {
			t.Errorf("--resource-type widg*: %v; want the 3 widgets %v, newest first", got, widgets)
		}
		// --dontask deletes without the prompt, as --yes.
		code, out, errOut := cli("event", "delete", "--dontask", "--resource_type", "gadgets")
		if code != 0 || out != "Deleted 2 events\n" {
			t.Errorf("delete --dontask: exit %d %q %s", code, out, errOut)
		}
		if code, out, _ := cli("events", "delete", "--dontask"); code != 0 || !strings.HasPrefix(out, "Deleted ") || strings.Contains(out, "Really") {
			t.Errorf("bare delete --dontask: exit %d %q", code, out)
		}
	})

	widgets = srv.post("/api/v3/widgets/w2", 3)
	for {
		_, out, _ := cli("events", "list", "--method", "POST", "-o", "json")
		if len(evLines(out)) == 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("kubectl: -o wide, --no-headers", func(t *testing.T) {
		same("-o wide = --full", []string{"events", "list", "-o", "wide", "--method", "POST"}, []string{"events", "list", "--full", "--method", "POST"})
		_, wide, _ := cli("events", "list", "-o", "wide", "--method", "POST")
		if !strings.HasPrefix(wide, "Timestamp") || !strings.Contains(strings.SplitN(wide, "\n", 2)[0], "Address") || !strings.Contains(wide, "/api/v3/widgets/w2") {
			t.Errorf("-o wide:\n%s", wide)
		}
		code, out, _ := cli("events", "list", "--no-headers", "--method", "POST")
		if rows := evLines(out); code != 0 || len(rows) != 3 || strings.Contains(out, "Timestamp") || !strings.Contains(rows[0], widgets[2]) {
			t.Errorf("--no-headers: exit %d\n%s", code, out)
		}
		code, out, _ = cli("events", "list", "--no-headers", "--method", "PUT")
		if code != 0 || out != "" {
			t.Errorf("--no-headers with no events: exit %d %q; want nothing", code, out)
		}
	})

	t.Run("journalctl times", func(t *testing.T) {
		now := time.Now().UTC()
		for _, since := range [][]string{
			{"--since", "-1h"}, {"--since=-1h"}, {"--since", "-90m"}, {"--since", "today"}, {"--since", "yesterday"},
			{"--since", now.Add(-time.Hour).Format("2006-01-02 15:04")}, {"--since", now.Add(-time.Hour).Format("2006-01-02 15:04:05")},
		} {
			args := append([]string{"events", "list", "--method", "POST", "-o", "json"}, since...)
			code, out, errOut := cli(args...)
			if today := now.Truncate(24 * time.Hour); since[len(since)-1] == "today" && now.Sub(today) < time.Minute {
				continue // just past midnight: the events may be yesterday's
			}
			if code != 0 || len(evLines(out)) != 3 {
				t.Errorf("%q: exit %d, %d events %s", since, code, len(evLines(out)), errOut)
			}
		}
		for _, before := range [][]string{{"--before", "-1h"}, {"--before", "yesterday"}} {
			args := append([]string{"events", "list", "--method", "POST", "-o", "json"}, before...)
			if code, out, errOut := cli(args...); code != 0 || out != "" {
				t.Errorf("%q: exit %d %q %s; want no events", before, code, out, errOut)
			}
		}
		if code, _, errOut := cli("events", "list", "--since", "tomorrow"); code != 2 || !strings.Contains(errOut, "--since") {
			t.Errorf("--since tomorrow: exit %d %s", code, errOut)
		}
	})

	t.Run("journalctl: list -f", func(t *testing.T) {
		f := coreStartProcess(t, bin, env, "events", "list", "-f", "--limit", "2", "--method", "POST", "-o", "json")
		r := bufio.NewReader(f.stdout)
		readIDs := func(n int) []string {
			var ids []string
			for range n {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("list -f: %v after %v; stderr %s", err, ids, f.stderr.String())
				}
				ids = append(ids, jsonIDs(t, line)...)
			}
			return ids
		}
		if got := readIDs(2); got[0] != widgets[1] || got[1] != widgets[2] {
			t.Fatalf("list -f --limit 2 printed %v; want %v oldest first", got, widgets[1:])
		}
		more := srv.post("/api/v3/widgets/w3", 2)
		if got := readIDs(2); got[0] != more[0] || got[1] != more[1] {
			t.Fatalf("then followed %v; want %v", got, more)
		}
		if code := f.stop(syscall.SIGINT); code != 0 {
			t.Errorf("list -f after SIGINT: exit %d", code)
		}
	})

	t.Run("follow across a server restart", func(t *testing.T) {
		f := coreStartProcess(t, bin, env, "events", "follow", "--method", "POST", "-o", "json")
		lines := make(chan string, 100)
		go func() {
			r := bufio.NewReader(f.stdout)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					close(lines)
					return
				}
				lines <- line
			}
		}()
		time.Sleep(300 * time.Millisecond) // connected
		want := srv.post("/api/v3/widgets/r1", 3)
		var got []string
		collect := func(n int) {
			t.Helper()
			for len(got) < n {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("follow ended after %d events; stderr:\n%s", len(got), f.stderr.String())
					}
					got = append(got, jsonIDs(t, l)...)
				case <-time.After(coreWait):
					t.Fatalf("follow printed %d of %d events; stderr:\n%s", len(got), n, f.stderr.String())
				}
			}
		}
		collect(3)
		if code := srv.p.stop(syscall.SIGTERM); code != 0 {
			t.Fatalf("serve exit %d", code)
		}
		f.waitStderr("reconnecting")
		srv.start()
		// Written at once, before follow is back: the resumed stream
		// replays them.
		want = append(want, srv.post("/api/v3/widgets/r2", 3)...)
		if strings.Contains(f.stderr.String(), "reconnected") {
			t.Log("follow was back before the writes: this run did not need the replay")
		}
		collect(6)
		f.waitStderr("reconnected")
		want = append(want, srv.post("/api/v3/widgets/r3", 2)...)
		collect(8)
		select { // nothing more: none printed twice
		case l := <-lines:
			t.Errorf("an extra line: %s", l)
		case <-time.After(time.Second):
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("followed %v\nwant     %v", got, want)
		}
		if code := f.stop(syscall.SIGINT); code != 0 {
			t.Errorf("follow after SIGINT: exit %d; stderr:\n%s", code, f.stderr.String())
		}
	})

	t.Run("a refused list prints nothing on stdout", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  []string
			want string
		}{
			{"401", []string{"TRAILCAR_SERVER=http://" + srv.adminAddr, "TRAILCAR_TOKEN=wrong"}, "401"},
			{"unreachable", []string{"TRAILCAR_SERVER=http://" + deadAddr, "TRAILCAR_TOKEN=x"}, "connection refused"},
		} {
			for _, o := range []string{"table", "wide", "json", "yaml"} {
				code, out, errOut := habitRun(t, bin, tc.env, "events", "list", "-o", o)
				if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
					t.Errorf("%s -o %s: exit %d, stdout %q, stderr %q", tc.name, o, code, out, errOut)
				}
			}
		}
		// A server that fails on the second page: the first page's rows
		// stay printed, exit 1.
		var page1 strings.Builder
		_, rows, _ := cli("events", "list", "--method", "POST", "-o", "json", "--limit", "2")
		for i, l := range evLines(rows) {
			if i > 0 {
				page1.WriteByte(',')
			}
			page1.WriteString(l)
		}
		paging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("cursor") == "" {
				fmt.Fprintf(w, `{"results":[%s],"next_cursor":"c2","item_count":2}`, page1.String())
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"disk on fire"}`)
		}))
		defer paging.Close()
		code, out, errOut := habitRun(t, bin, []string{"TRAILCAR_SERVER=" + paging.URL}, "events", "list", "--all")
		if lines := evLines(out); code != 1 || len(lines) != 3 || !strings.HasPrefix(lines[0], "Timestamp") || strings.Contains(out, "No events") || !strings.Contains(errOut, "disk on fire") {
			t.Errorf("failing on page 2: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	if msg := <-deadFollow; msg != "" {
		t.Error(msg)
	}
}
