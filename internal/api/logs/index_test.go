package logs_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// threeFiles makes a live file and two rotated ones (one compressed) plus
// files that must never be listed, and returns the expected index.
func threeFiles(t *testing.T, dir string) []logs.File {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	writeFile(t, filepath.Join(dir, liveName), "live 1\nlive 2\n", now)
	writeFile(t, filepath.Join(dir, "audit-2026-11-22T08-15-30.123.log"), "newer rotated\n", now.Add(-time.Hour))
	writeGzip(t, filepath.Join(dir, "audit-2026-11-21T08-15-30.123.log.gz"), "older rotated\n", now.Add(-2*time.Hour))
	writeFile(t, filepath.Join(dir, ".index"), "hidden\n", time.Time{})
	writeFile(t, filepath.Join(dir, "notes.txt"), "other\n", time.Time{})
	return []logs.File{
		{Name: liveName, Size: 14, Modified: now},
		{Name: "audit-2026-11-22T08-15-30.123.log", Size: 14, Modified: now.Add(-time.Hour)},
		{Name: "audit-2026-11-21T08-15-30.123.log.gz", Modified: now.Add(-2 * time.Hour)},
	}
}

func TestIndexJSON(t *testing.T) {
	dir := mkdir(t)
	want := threeFiles(t, dir)
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName)})
	tests := []struct {
		name, accept string
		json         bool
	}{
		{"json", "application/json", true},
		{"json over html", "text/html;q=0.5, application/json", true},
		{"axios style", "application/json, text/plain, */*", true},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"curl", "*/*", false},
		{"none", "", false},
		{"json refused", "application/json;q=0, */*", false},
		{"html", "text/html", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs", "", "Accept", tt.accept)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			ct := header.Get("Content-Type")
			if !tt.json {
				if !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<h1>Log Files</h1>") {
					t.Fatalf("want the HTML page, got %s: %.200s", ct, body)
				}
				return
			}
			if ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var idx struct {
				Files []struct {
					Name     string `json:"name"`
					Size     int64  `json:"size"`
					Modified string `json:"modified"`
				} `json:"files"`
			}
			if err := json.Unmarshal([]byte(body), &idx); err != nil {
				t.Fatal(err)
			}
			if len(idx.Files) != len(want) {
				t.Fatalf("got %d files, want %d: %s", len(idx.Files), len(want), body)
			}
			for i, f := range idx.Files {
				if f.Name != want[i].Name || (want[i].Size != 0 && f.Size != want[i].Size) {
					t.Errorf("file %d: got %+v, want %+v", i, f, want[i])
				}
				if f.Modified != want[i].Modified.Format(time.RFC3339) {
					t.Errorf("file %d modified %q, want RFC 3339 UTC %q", i, f.Modified, want[i].Modified.Format(time.RFC3339))
				}
			}
		})
	}
}

func TestIndexHTML(t *testing.T) {
	dir := mkdir(t)
	threeFiles(t, dir)
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName)})
	_, _, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs", "", "Accept", "text/html")
	live := strings.Index(body, `href="logs/audit.log"`)
	newer := strings.Index(body, `href="logs/audit-2026-11-22T08-15-30.123.log"`)
	older := strings.Index(body, `href="logs/audit-2026-11-21T08-15-30.123.log.gz"`)
	if live < 0 || newer < 0 || older < 0 || !(live < newer && newer < older) {
		t.Fatalf("want links newest first (live %d, newer %d, older %d):\n%s", live, newer, older, body)
	}
	for _, never := range []string{".index", "notes.txt"} {
		if strings.Contains(body, never) {
			t.Errorf("page lists %s", never)
		}
	}
	if !strings.Contains(body, `14 B`) || !strings.Contains(body, "<time datetime=") {
		t.Errorf("want sizes and modified times:\n%s", body)
	}
}

func TestIndexHTMLEscapes(t *testing.T) {
	dir := mkdir(t)
	name := `<b onmouseover="x">.log`
	writeFile(t, filepath.Join(dir, name), "x\n", time.Time{})
	srv := serve(t, &logs.Handler{Store: trail(dir, name)})
	_, _, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs", "")
	if strings.Contains(body, "<b ") || strings.Contains(body, `onmouseover="x"`) {
		t.Fatalf("file name not escaped:\n%s", body)
	}
	if !strings.Contains(body, "&lt;b onmouseover=&#34;x&#34;&gt;.log") {
		t.Fatalf("escaped name missing:\n%s", body)
	}
}

func TestIndexMissingDir(t *testing.T) {
	srv := serve(t, &logs.Handler{Store: trail(filepath.Join(t.TempDir(), "nothing-yet"), liveName)})
	status, _, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs", "", "Accept", "application/json")
	if status != http.StatusOK || strings.TrimSpace(body) != `{"files":[]}` {
		t.Fatalf("got %d %s, want an empty list", status, body)
	}
}
