package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// coreProcess is the trailcar binary running.
type coreProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout io.Reader
	stderr *sidecartest.Buffer
	done   chan struct{}
	err    error
}

func coreStartProcess(t *testing.T, bin string, env []string, args ...string) *coreProcess {
	t.Helper()
	p := &coreProcess{t: t, cmd: exec.Command(bin, args...), stderr: &sidecartest.Buffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdout = out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill() // only this test's own process
			<-p.done
		}
	})
	return p
}

// signal sends sig and, for a stopping signal, waits for the exit code.
func (p *coreProcess) stop(sig os.Signal) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(coreWait):
		p.t.Fatalf("no exit within %v of %v; stderr:\n%s", coreWait, sig, p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// waitStderr waits until stderr contains s.
func (p *coreProcess) waitStderr(s string) {
	p.t.Helper()
	deadline := time.Now().Add(coreWait)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			p.t.Fatalf("stderr lacks %q:\n%s", s, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// coreBuildBinary builds trailcar into dir.
func coreBuildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "trailcar")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestProcess runs the real binary: serve with signals, a bad config, and
// demo. The binary is built once for all of them.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := coreBuildBinary(t, t.TempDir())

	t.Run("serve, SIGHUP, SIGTERM", func(t *testing.T) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
		defer up.Close()
		dir := t.TempDir()
		logDir := filepath.Join(dir, "logs")
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("upstream: %q\nservice: e2e\nactivity_tracker:\n  dir: %q\n", up.URL, logDir)), 0o600)
		p := coreStartProcess(t, bin, nil, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
		path := filepath.Join(logDir, "audit.log")
		proxyAddr, _ := coreStartedAddrs(t, path)
		p.waitStderr("[event tracker] enabled logging for activity tracker: " + path + "\n")

		var ids []string
		send := func(n int) {
			for range n {
				status, id := corePost(t, "http://"+proxyAddr+"/api/v3/things", "{}")
				if status != 201 {
					t.Fatalf("POST: %d", status)
				}
				ids = append(ids, id)
			}
		}
		send(5)
		coreWaitAudit(t, path, "the fifth event", func(l coreAuditLine) bool { return l.ID == ids[4] })
		moved := filepath.Join(dir, "moved.log")
		if err := os.Rename(path, moved); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitStderr("reopening audit log")
		send(3)
		coreWaitAudit(t, path, "an event in the reopened file", func(l coreAuditLine) bool { return l.ID == ids[7] })
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, p.stderr.String())
		}

		before, after := coreReadAudit(t, moved), coreReadAudit(t, path)
		written := map[string]bool{}
		for _, l := range append(before, after...) {
			written[l.ID] = true
		}
		for i, id := range ids {
			if !written[id] {
				t.Errorf("request %d (%s) has no event", i, id)
			}
		}
		// A cleanly stopped file ends sealed: stopped, then its checkpoint.
		if n := len(after); n < 2 || after[n-2].Type != "system.trailcar.stopped" || after[n-1].Type != "system.audit.checkpoint" {
			t.Errorf("the live file does not end with stopped and a checkpoint: %+v", after)
		}
		// The moved file was sealed where it went, the new one starts
		// with the reopen record, and verify calls the gap rotated-out
		// (docs/integrity.md "Outside rotation").
		if n := len(before); n == 0 || before[n-1].Type != "system.audit.checkpoint" {
			t.Errorf("the moved file does not end with its checkpoint: %+v", before)
		}
		if len(after) == 0 || after[0].Type != "system.audit.reopened" {
			t.Errorf("the new file does not start with system.audit.reopened: %+v", after)
		}
		out, err := exec.Command(bin, "verify", "--dir", logDir).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rotated-out") {
			t.Errorf("verify after mv + SIGHUP: %v\n%s", err, out)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(cfg, []byte("listen: \"127.0.0.1:0\"\nactivity_tracker:\n  when_full: sometimes\n"), 0o600)
		cmd := exec.Command(bin, "serve", "--config", cfg)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "activity_tracker.when_full (line 3)") {
			t.Errorf("exit %v, output %s; want 2 naming the key and line", err, out)
		}
	})

	t.Run("tracker disabled", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte("listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nactivity_tracker:\n  enabled: false\n"), 0o600)
		p := coreStartProcess(t, bin, nil, "serve", "--config", cfg)
		p.waitStderr("[event tracker] disabled logging for activity tracker\n")
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, p.stderr.String())
		}
	})

	t.Run("demo", func(t *testing.T) {
		tmp := t.TempDir() // the demo's log dir goes under $TMPDIR
		p := coreStartProcess(t, bin, []string{"TMPDIR=" + tmp}, "demo")
		urls := coreDemoURLs(t, p)
		if !strings.HasPrefix(urls["audit log"], tmp) {
			t.Errorf("audit log %s not under $TMPDIR", urls["audit log"])
		}
		status, id := corePost(t, urls["proxy"]+"/api/v3/components", `{"name":"peer-org2"}`)
		if status != 201 {
			t.Fatalf("POST /api/v3/components: %d", status)
		}
		l := coreWaitAudit(t, urls["audit log"], "the create event", func(l coreAuditLine) bool { return l.ID == id })
		if l.Action != "console.components.create" || l.Resource.Type != "components" || !strings.HasPrefix(l.Resource.ID, "c") {
			t.Errorf("event %+v", l)
		}
		if resp, err := http.Get(urls["admin"] + "/healthz"); err != nil || resp.StatusCode != 200 {
			t.Errorf("admin healthz: %v %v", resp, err)
		}
		if code := p.stop(os.Interrupt); code != 0 {
			t.Fatalf("exit %d after SIGINT; stderr:\n%s", code, p.stderr.String())
		}
		if conn, err := net.Dial("tcp", strings.TrimPrefix(urls["proxy"], "http://")); err == nil {
			conn.Close()
			t.Error("proxy port still open after exit")
		}
	})

	t.Run("demo --listen --admin-listen", func(t *testing.T) {
		proxyAddr, adminAddr := coreFreeAddr(t), coreFreeAddr(t)
		p := coreStartProcess(t, bin, []string{"TMPDIR=" + t.TempDir()}, "demo", "--listen", proxyAddr, "--admin-listen", adminAddr)
		urls := coreDemoURLs(t, p)
		if urls["proxy"] != "http://"+proxyAddr || urls["admin"] != "http://"+adminAddr {
			t.Fatalf("demo printed %v; want the proxy on %s and the admin port on %s", urls, proxyAddr, adminAddr)
		}
		status, id := corePost(t, "http://"+proxyAddr+"/api/v3/components", `{"name":"peer-org2"}`)
		if status != 201 {
			t.Fatalf("POST /api/v3/components: %d", status)
		}
		coreWaitAudit(t, urls["audit log"], "the create event", func(l coreAuditLine) bool { return l.ID == id })
		if resp, err := http.Get("http://" + adminAddr + "/healthz"); err != nil || resp.StatusCode != 200 {
			t.Errorf("admin healthz on %s: %v %v", adminAddr, resp, err)
		}
		if code := p.stop(os.Interrupt); code != 0 {
			t.Fatalf("exit %d after SIGINT; stderr:\n%s", code, p.stderr.String())
		}
	})
}

// coreDemoURLs reads the proxy, admin and audit log lines a demo prints
// when it listens, and drains the rest of its output.
func coreDemoURLs(t *testing.T, p *coreProcess) map[string]string {
	t.Helper()
	urls := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(p.stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(coreWait)
	for len(urls) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo's output ended; stderr:\n%s", p.stderr.String())
			}
			for _, key := range []string{"proxy", "admin", "audit log"} {
				if v, ok := strings.CutPrefix(l, key+": "); ok {
					urls[key] = v
				}
			}
		case <-timeout:
			t.Fatalf("demo printed %v; stderr:\n%s", urls, p.stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return urls
}

// coreFreeAddr is a loopback address with a port free a moment ago.
func coreFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
