package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAuditLinesOnStdout: with activity_tracker.stdout the binary writes
// every line of the trail to stdout, byte for byte and in file order,
// checkpoints included, and nothing else there (its messages, the
// start-up lines included, go to stderr).
func TestAuditLinesOnStdout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := coreBuildBinary(t, dir)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	defer up.Close()
	logs := filepath.Join(dir, "logs")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
upstream: "`+up.URL+`"
admin: { listen: "127.0.0.1:0" }
activity_tracker: { dir: "`+logs+`", stdout: true }
integrity: { interval: 1s }
`), 0o600)
	p := coreStartProcess(t, bin, nil, "serve", "--config", cfg)
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, p.stdout); close(copied) }()
	path := filepath.Join(logs, "audit.log")
	proxyAddr, _ := coreStartedAddrs(t, path)
	for i := range 40 {
		if status, _ := corePost(t, "http://"+proxyAddr+"/api/v3/things", "{}"); status != 201 {
			t.Fatalf("status %d", status)
		}
		if i == 20 {
			time.Sleep(1200 * time.Millisecond) // room for an interval checkpoint between lines
		}
	}
	if code := p.stop(os.Interrupt); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr.String())
	}
	<-copied
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		t.Fatalf("stdout (%d bytes) is not the file (%d bytes)\nstdout:\n%s\nfile:\n%s", out.Len(), len(file), out.Bytes(), file)
	}
	if n := bytes.Count(file, []byte("\n")); n < 42 || !bytes.Contains(file, []byte(`"type":"system.audit.checkpoint"`)) {
		t.Errorf("%d lines, want the 40 requests, start, stop and checkpoints", n)
	}
}
