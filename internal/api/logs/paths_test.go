//go:build unix

package logs_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestOnlyListedFiles sends raw request paths that try to reach files
// outside the listed ones; every one must be 404 and leak nothing.
func TestOnlyListedFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	os.Mkdir(dir, 0o750)
	const secret = "TOP-SECRET-CONTENT"
	secretPath := filepath.Join(root, "secret.log")
	writeFile(t, secretPath, secret+"\n", time.Time{})
	writeFile(t, filepath.Join(dir, liveName), "live line\n", time.Time{})
	writeFile(t, filepath.Join(dir, ".index"), secret+"\n", time.Time{})
	writeFile(t, filepath.Join(dir, "notes.txt"), secret+"\n", time.Time{})
	// Named like rotated files, but not regular files: never listed.
	links := map[string]string{
		"audit-2026-11-22T08-15-30.123.log": secretPath,                      // symlink out of the dir
		"audit-2026-11-22T08-15-31.123.log": filepath.Join(dir, liveName),    // symlink inside the dir
		"audit-2026-11-22T08-15-32.123.log": "../secret.log",                 // relative symlink out
		"audit-2026-11-22T08-15-33.123.log": filepath.Join(root, "dangling"), // dangling
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "audit-2026-11-22T08-15-34.123.log"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "audit-2026-11-22T08-15-35.123.log"), 0o640); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName)})

	t.Run("control: the live file is served", func(t *testing.T) {
		if status, body := rawGet(t, srv, "/api/v3/logs/audit.log"); status != 200 || body != "live line\n" {
			t.Fatalf("got %d %q", status, body)
		}
	})
	tests := []struct{ name, target string }{
		{"dot dot", "/api/v3/logs/.."},
		{"dot dot to secret", "/api/v3/logs/../../secret.log"},
		{"dot dot inside a name", "/api/v3/logs/audit.log/../../../secret.log"},
		{"single dot", "/api/v3/logs/./audit.log"},
		{"encoded dot dot", "/api/v3/logs/%2e%2e"},
		{"encoded dot dot upper case", "/api/v3/logs/%2E%2E%2Fsecret.log"},
		{"encoded slash", "/api/v3/logs/..%2fsecret.log"},
		{"encoded slashes all the way", "/api/v3/logs/%2e%2e%2f%2e%2e%2fsecret.log"},
		{"absolute path encoded", "/api/v3/logs/" + strings.ReplaceAll(secretPath, "/", "%2f")},
		{"absolute path double slash", "/api/v3/logs/" + secretPath},
		{"absolute URI form", "http://test/api/v3/logs/%2fetc%2fpasswd"},
		{"backslashes", `/api/v3/logs/..\..\secret.log`},
		{"encoded backslashes", "/api/v3/logs/..%5c..%5csecret.log"},
		{"NUL", "/api/v3/logs/audit.log%00"},
		{"NUL then suffix", "/api/v3/logs/audit.log%00.txt"},
		{"symlink out of the dir", "/api/v3/logs/audit-2026-11-22T08-15-30.123.log"},
		{"symlink inside the dir", "/api/v3/logs/audit-2026-11-22T08-15-31.123.log"},
		{"relative symlink out", "/api/v3/logs/audit-2026-11-22T08-15-32.123.log"},
		{"dangling symlink", "/api/v3/logs/audit-2026-11-22T08-15-33.123.log"},
		{"directory", "/api/v3/logs/audit-2026-11-22T08-15-34.123.log"},
		{"fifo", "/api/v3/logs/audit-2026-11-22T08-15-35.123.log"},
		{"dot file", "/api/v3/logs/.index"},
		{"other file in the dir", "/api/v3/logs/notes.txt"},
		{"trailing slash", "/api/v3/logs/audit.log/"},
		{"empty name", "/api/v3/logs/"},
		{"case differs", "/api/v3/logs/AUDIT.LOG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawGet(t, srv, tt.target)
			if status != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404: %.200s", tt.target, status, body)
			}
			if strings.Contains(body, secret) || strings.Contains(body, "live line") {
				t.Errorf("GET %s leaked file content: %.200s", tt.target, body)
			}
		})
	}
	t.Run("the index lists only the live file", func(t *testing.T) {
		_, _, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs", "", "Accept", "application/json")
		if !strings.HasPrefix(body, `{"files":[{"name":"audit.log","size":10,`) || strings.Count(body, `"name"`) != 1 {
			t.Fatalf("got %s", body)
		}
	})
}
