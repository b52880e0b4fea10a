package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// installJSONServer installs json-server from npm into dir and returns its
// command; it skips, loudly, only where npm is missing or unreachable.
func installJSONServer(t *testing.T, dir string) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("SKIPPED: no npm on this machine: json-server (a real REST app) cannot be installed")
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "json-server@0.17.4")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("SKIPPED: npm install json-server failed (registry unreachable?): %v\n%s", err, out)
	}
	return filepath.Join(dir, "node_modules", ".bin", "json-server")
}

// startJSONServer runs json-server on a fresh copy of db and returns its
// base URL.
func startJSONServer(t *testing.T, bin, dir, db string) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "db.json")
	os.WriteFile(path, []byte(db), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port), path)
	cmd.Dir = dir
	log := &sidecartest.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // only this test's own process
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(coreWait)
	for {
		resp, err := http.Get(base + "/posts")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("json-server did not start: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restCall is one request of the json-server session and what came back.
type restCall struct {
	method, path, body string
}

type restAnswer struct {
	status   int
	location string // its path: the host is the one the client asked
	body     string
	id       string // X-Request-Id, through trailcar
}

func (c restCall) do(t *testing.T, base string) restAnswer {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, _ := http.NewRequest(c.method, base+c.path, body)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: coreWait}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := restAnswer{status: resp.StatusCode, body: string(data), id: resp.Header.Get("X-Request-Id")}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, _ := url.Parse(loc)
		a.location = u.Path
	}
	return a
}

// TestJSONServerProcess puts the real binary in front of json-server, a
// REST app nobody here wrote: every write is one event whose resource is
// the post (posts:2, and posts:3 from a create's Location), captured
// bodies are redacted (a password three levels down), and the client gets
// the very answers json-server gives without trailcar.
func TestJSONServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("installs json-server and runs the binary")
	}
	dir := t.TempDir()
	jsonServer := installJSONServer(t, filepath.Join(dir, "npm"))
	const db = `{"posts":[{"id":1,"title":"one"},{"id":2,"title":"two"}]}`
	direct := startJSONServer(t, jsonServer, filepath.Join(dir, "direct"), db)
	behind := startJSONServer(t, jsonServer, filepath.Join(dir, "behind"), db)

	bin := coreBuildBinary(t, dir)
	logs := filepath.Join(dir, "logs")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
service: blog
admin: { listen: "127.0.0.1:0" }
activity_tracker:
  dir: %q
  capture:
    - { path: "/posts{,/**}", methods: [POST, PUT, PATCH, DELETE], request: true, response: true, max_bytes: 4096 }
integrity: { enabled: false }
`, behind, logs)), 0o600)
	coreStartProcess(t, bin, nil, "serve", "--config", cfg)
	audit := filepath.Join(logs, "audit.log")
	proxyAddr, _ := coreStartedAddrs(t, audit)

	calls := []restCall{
		{"GET", "/posts", ""},
		{"POST", "/posts", `{"title":"three","author":{"login":{"password":"hunter2","name":"al"}}}`},
		{"PATCH", "/posts/2", `{"title":"deux","auth":{"token":"t0k3n"}}`},
		{"PUT", "/posts/2", `{"title":"dos"}`},
		{"GET", "/posts/2", ""},
		{"DELETE", "/posts/2", ""},
		{"GET", "/posts/2", ""},
	}
	wantResource := map[string]string{"POST": "posts:3", "PATCH": "posts:2", "PUT": "posts:2", "DELETE": "posts:2"}
	for _, c := range calls {
		want := c.do(t, direct)
		got := c.do(t, "http://"+proxyAddr)
		if got.status != want.status || got.body != want.body || got.location != want.location {
			t.Errorf("%s %s through trailcar: %d %q %q; without: %d %q %q", c.method, c.path,
				got.status, got.location, got.body, want.status, want.location, want.body)
		}
		res, ok := wantResource[c.method]
		if !ok {
			continue
		}
		line := coreWaitAudit(t, audit, c.method+" "+c.path+"'s event", func(l coreAuditLine) bool { return l.ID == got.id })
		if r := line.Resource.Type + ":" + line.Resource.ID; r != res {
			t.Errorf("%s %s: resource %s, want %s", c.method, c.path, r, res)
		}
		var bodies struct {
			Req struct{ Body json.RawMessage } `json:"req"`
			Res struct{ Body json.RawMessage } `json:"res"`
		}
		raw := findLine(t, audit, got.id)
		json.Unmarshal(raw, &bodies)
		t.Logf("%s %s: req.body %s res.body %s", c.method, c.path, bodies.Req.Body, bodies.Res.Body)
		switch c.method {
		case "POST":
			if want := `{"title":"three","author":{"login":{"password":"REDACTED","name":"al"}}}`; string(bodies.Req.Body) != want {
				t.Errorf("POST req.body %s, want %s", bodies.Req.Body, want)
			}
			if want := `{"title":"three","author":{"login":{"password":"REDACTED","name":"al"}},"id":3}`; string(bodies.Res.Body) != want {
				t.Errorf("POST res.body %s, want %s", bodies.Res.Body, want)
			}
		case "PATCH":
			if want := `{"title":"deux","auth":{"token":"REDACTED"}}`; string(bodies.Req.Body) != want {
				t.Errorf("PATCH req.body %s, want %s", bodies.Req.Body, want)
			}
		}
		if strings.Contains(string(raw), "hunter2") || strings.Contains(string(raw), "t0k3n") {
			t.Errorf("a secret is in the line: %s", raw)
		}
	}
	// Each write is one event: four http events, no more.
	n := 0
	for _, l := range coreReadAudit(t, audit) {
		if l.Type == "http" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d http events, want 4 (one per write)", n)
	}
}
