package viewer_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/api/viewer"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

func serveViewer(t *testing.T) *httptest.Server {
	t.Helper()
	v, err := viewer.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", v)
	mux.Handle("GET /ui/", v)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestPageAndItsFiles: the page loads, and every file it references (and
// every module those import) is served with the right type.
func TestPageAndItsFiles(t *testing.T) {
	srv := serveViewer(t)
	status, header, page := sidecartest.Do(t, http.MethodGet, srv.URL+"/", "")
	if status != 200 || header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %s", status, header.Get("Content-Type"))
	}
	csp := header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q: want own scripts only", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="(ui/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("page references %d files", len(refs))
	}
	want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	seen := map[string]bool{}
	queue := []string{}
	for _, r := range refs {
		queue = append(queue, r[1])
	}
	imports := regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		t.Run(ref, func(t *testing.T) {
			status, header, body := sidecartest.Do(t, http.MethodGet, srv.URL+"/"+ref, "")
			ext := ref[strings.LastIndex(ref, "."):]
			if status != 200 || header.Get("Content-Type") != want[ext] {
				t.Fatalf("status %d, type %q", status, header.Get("Content-Type"))
			}
			for _, m := range imports.FindAllStringSubmatch(body, -1) {
				queue = append(queue, "ui/"+m[1])
			}
		})
	}
	for _, m := range []string{"ui/api.js", "ui/table.js", "ui/chart.js", "ui/detail.js", "ui/files.js", "ui/filters.js", "ui/time.js", "ui/integrity.js", "ui/exporter.js", "ui/live.js", "ui/peers.js", "ui/app.js", "ui/viewer.css"} {
		if !seen[m] {
			t.Errorf("%s is not reached from the page", m)
		}
	}
}

// TestNothingFromElsewhere: no file loads anything from another origin
// (it must work offline), and no script writes HTML from strings.
func TestNothingFromElsewhere(t *testing.T) {
	srv := serveViewer(t)
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for _, name := range []string{"", "ui/app.js", "ui/api.js", "ui/table.js", "ui/chart.js", "ui/detail.js", "ui/files.js", "ui/filters.js", "ui/time.js", "ui/integrity.js", "ui/exporter.js", "ui/live.js", "ui/peers.js", "ui/viewer.css"} {
		t.Run("/"+name, func(t *testing.T) {
			_, _, body := sidecartest.Do(t, http.MethodGet, srv.URL+"/"+name, "")
			body = strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "") // a namespace, not a fetch
			if m := external.FindString(body); m != "" {
				t.Errorf("refers to %q", m)
			}
			for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
				if strings.Contains(body, sink) {
					t.Errorf("uses %s", sink)
				}
			}
		})
	}
}

func TestCachingAndNotFound(t *testing.T) {
	srv := serveViewer(t)
	_, header, _ := sidecartest.Do(t, http.MethodGet, srv.URL+"/ui/app.js", "")
	etag := header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	tests := []struct {
		name, method, path string
		header             []string
		status             int
	}{
		{"revalidated", http.MethodGet, "/ui/app.js", []string{"If-None-Match", etag}, 304},
		{"changed", http.MethodGet, "/ui/app.js", []string{"If-None-Match", `"other"`}, 200},
		{"head", http.MethodHead, "/", nil, 200},
		{"unknown file", http.MethodGet, "/ui/nope.js", nil, 404},
		{"the page under ui", http.MethodGet, "/ui/index.html", nil, 404},
		{"directory", http.MethodGet, "/ui/", nil, 404},
		{"other path", http.MethodGet, "/other", nil, 404},
		{"post", http.MethodPost, "/", nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, _ := sidecartest.Do(t, tt.method, srv.URL+tt.path, "", tt.header...)
			if status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
		})
	}
}
