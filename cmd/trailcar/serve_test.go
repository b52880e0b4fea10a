package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// coreWait is how long to wait for what should happen at once (generous:
// the machine is shared with other test runs).
const coreWait = 20 * time.Second

// coreAuditLine is the part of an audit line these tests look at.
type coreAuditLine struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Action   string `json:"action"`
	Resource struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"resource"`
	Res struct {
		StatusCode int `json:"statusCode"`
	} `json:"res"`
	Details map[string]any `json:"details"`
}

// coreReadAudit reads the lines of one audit file; every line must decode.
func coreReadAudit(t testing.TB, path string) []coreAuditLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []coreAuditLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l coreAuditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Bytes(), err)
		}
		out = append(out, l)
	}
	return out
}

// coreWaitAudit polls an audit file until a line satisfies ok.
func coreWaitAudit(t testing.TB, path, what string, ok func(coreAuditLine) bool) coreAuditLine {
	t.Helper()
	deadline := time.Now().Add(coreWait)
	for time.Now().Before(deadline) {
		for _, l := range coreReadAudit(t, path) {
			if ok(l) {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s in %s", what, path)
	return coreAuditLine{}
}

// coreStartedAddrs waits for system.trailcar.started and returns the proxy and
// admin addresses it names (the way to find ports given as :0).
func coreStartedAddrs(t testing.TB, path string) (proxyAddr, adminAddr string) {
	t.Helper()
	l := coreWaitAudit(t, path, "system.trailcar.started", func(l coreAuditLine) bool { return l.Type == "system.trailcar.started" })
	proxyAddr, _ = l.Details["listen"].(string)
	adminAddr, _ = l.Details["admin"].(string)
	if proxyAddr == "" || adminAddr == "" {
		t.Fatalf("started event without addresses: %+v", l)
	}
	return proxyAddr, adminAddr
}

func corePost(t testing.TB, url, body string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: coreWait}).Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Request-Id")
}

// TestServe runs `serve` in-process: the flags override the file, requests
// become events, and cancelling (SIGTERM) exits 0 with stopped written.
func TestServe(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	defer up.Close()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "flag-logs")
	cfgPath := filepath.Join(dir, "config.yaml")
	// The file's values are all overridden by flags: were they used, the
	// sidecar would fail (port 1 is not ours) or write elsewhere.
	os.WriteFile(cfgPath, []byte("listen: \"127.0.0.1:1\"\nupstream: \"http://127.0.0.1:1\"\nadmin:\n  listen: \"127.0.0.1:1\"\n"+
		"activity_tracker:\n  dir: "+filepath.Join(dir, "file-logs")+"\n"), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut sidecartest.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
			"--upstream", up.URL, "--log-dir", logDir}, strings.NewReader(""), &out, &errOut)
	}()
	path := filepath.Join(logDir, "audit.log")
	proxyAddr, adminAddr := coreStartedAddrs(t, path)
	if want := "[event tracker] enabled logging for activity tracker: " + path + "\n"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
	}
	if want := "[event tracker] rules (the IBM console's defaults: set service, activity_tracker.track, ignore_routes and actions for another app): " +
		`service "console"; methods POST, PUT, PATCH, DELETE; statuses 400, 401, 403; always /ak/api/**, /auth/login, /auth/logout, /api/v[123]/logs/**; ` +
		"ignore_routes /api/v[123]/proxy{,/**}, /grpcwp/**, /configtxlator/**, /api/v[123]/components/status, /api/v[123]/logs; 3 actions rules; bodies captured on none\n"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks the rules line %q:\n%s", want, errOut.String())
	}
	status, id := corePost(t, "http://"+proxyAddr+"/api/v3/things", "{}")
	if status != 201 {
		t.Fatalf("POST: %d", status)
	}
	if resp, err := http.Get("http://" + adminAddr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d; stderr %s", c, errOut.String())
		}
	case <-time.After(coreWait):
		t.Fatal("serve did not return after the cancel")
	}
	lines := coreReadAudit(t, path)
	if len(lines) != 4 || lines[1].ID != id || lines[2].Type != "system.trailcar.stopped" || lines[3].Type != "system.audit.checkpoint" {
		t.Errorf("audit file: %+v", lines)
	}
	if _, err := os.Stat(filepath.Join(dir, "file-logs")); err == nil {
		t.Error("the file's log dir was used despite --log-dir")
	}
}

// TestServeExitCodes: a bad config is 2 before anything starts; a port
// in use is 1; a disabled tracker says so.
func TestServeExitCodes(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		return path
	}
	base := fmt.Sprintf("admin:\n  listen: \"127.0.0.1:0\"\nactivity_tracker:\n  dir: %s\n", filepath.Join(dir, "logs"))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad config", []string{"serve", "--config", write("bad.yaml", "listen: \"127.0.0.1:0\"\nupstream: ftp://x\n")}, 2, "upstream (line 2)"},
		{"bad flag value", []string{"serve", "--config", write("ok.yaml", base), "--listen", "nope"}, 2, "listen"},
		{"bad upstream flag", []string{"serve", "--config", write("ok2.yaml", base), "--listen", "127.0.0.1:0", "--upstream", "http://"}, 2, "upstream"},
		{"port in use", []string{"serve", "--config", write("busy.yaml", base), "--listen", busy.Addr().String()}, 1, "listen"},
		{"admin beyond loopback without a token", []string{"serve", "--config", write("open.yaml", base), "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0"}, 2, "admin.token_file"},
		{"the image's config without its mounted token", []string{"serve", "--config", "../../examples/config/container.yaml",
			"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-dir", filepath.Join(dir, "img")}, 2, "admin.token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := coreRun(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d naming %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			if strings.Contains(errOut, "[event tracker]") && tt.wantCode == 2 {
				t.Errorf("started despite a bad config: %s", errOut)
			}
		})
	}

	t.Run("tracker disabled", func(t *testing.T) {
		cfg := write("disabled.yaml", "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nactivity_tracker:\n  enabled: false\n  dir: "+filepath.Join(dir, "never")+"\n")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var errOut sidecartest.Buffer
		code := make(chan int, 1)
		go func() {
			code <- run(ctx, []string{"serve", "--config", cfg}, strings.NewReader(""), &sidecartest.Buffer{}, &errOut)
		}()
		deadline := time.Now().Add(coreWait)
		for !strings.Contains(errOut.String(), "[event tracker] disabled logging for activity tracker\n") {
			if time.Now().After(deadline) {
				t.Fatalf("stderr: %s", errOut.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if c := <-code; c != 0 {
			t.Fatalf("exit %d: %s", c, errOut.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
			t.Error("a disabled tracker created its log dir")
		}
	})
}

// TestRulesLineForAnotherApp: examples/config/minimal.yaml (an app that is
// not the console) runs configured rules, and says so at start.
func TestRulesLineForAnotherApp(t *testing.T) {
	cfg, err := sidecar.LoadConfig(filepath.Join("..", "..", "examples", "config", "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := `[event tracker] rules (configured): service "myapp"; methods POST, PUT, PATCH, DELETE; statuses 400, 401, 403; always none; ignore_routes none; 0 actions rules; bodies captured on none`
	if got := rulesLine(cfg); got != want {
		t.Errorf("rules line\n got %s\nwant %s", got, want)
	}
}
