// Package viewer is the web viewer of the admin port (docs/viewer.md): one page
// and its scripts and styles, embedded in the binary, with no build step
// and nothing fetched from elsewhere, so it works offline.
//
// The page needs no token to load. It asks for the admin token when the
// API answers 401, keeps it in sessionStorage (this tab only), and sends it
// as an Authorization header on every API call, the event stream included
// (read with fetch, since EventSource cannot set headers; a token in the
// URL would end up in the audit log's req.query).
package viewer

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy allows only the viewer's own files and API: no
// inline script, nothing from another origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// contentType is fixed here rather than taken from the system's MIME
// table, which may map .js to text/plain (then nosniff would block it).
func contentType(ext string) (string, bool) {
	switch ext {
	case ".html":
		return "text/html; charset=utf-8", true
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".svg":
		return "image/svg+xml", true
	}
	return "", false
}

type asset struct {
	name  string
	body  []byte
	etag  string
	ctype string
}

// Viewer serves the page at "/" and its files under "/ui/".
type Viewer struct {
	index  asset
	assets map[string]asset // by name under /ui/
}

// New loads the embedded files.
func New() (*Viewer, error) {
	v := &Viewer{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype, ok := contentType(path.Ext(p))
		if !ok {
			return fmt.Errorf("%s: no content type for its extension", p)
		}
		a := asset{name: path.Base(p), body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
		if p == "static/index.html" {
			v.index = a
			return nil
		}
		v.assets[strings.TrimPrefix(p, "static/")] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load viewer files: %w", err)
	}
	if v.index.body == nil {
		return nil, fmt.Errorf("load viewer files: no index.html")
	}
	return v, nil
}

// ServeHTTP answers GET (and HEAD) of "/" and "/ui/<file>"; anything else
// is 404.
func (v *Viewer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a asset
	switch name, isUI := strings.CutPrefix(r.URL.Path, "/ui/"); {
	case r.URL.Path == "/":
		a = v.index
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	case isUI && v.assets[name].body != nil:
		a = v.assets[name]
	default:
		jsonhttp.Error(w, http.StatusNotFound, "no such file: "+r.URL.Path)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache") // revalidate: a new binary may ship new files
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
