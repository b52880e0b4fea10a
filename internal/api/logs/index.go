package logs

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// File is one entry of the JSON index.
type File struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"` // UTC, RFC 3339
}

// Index is the JSON answer of the index route.
type Index struct {
	Files []File `json:"files"`
}

// ServeIndex answers the list of audit files, newest first: JSON when the
// Accept header prefers application/json, else the "Log Files" HTML page.
func (h *Handler) ServeIndex(w http.ResponseWriter, r *http.Request) {
	files, err := h.Store.Files()
	if err != nil {
		h.internalError(w, "list audit files", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if PrefersJSON(r.Header.Get("Accept")) {
		idx := Index{Files: make([]File, 0, len(files))}
		for _, f := range files {
			idx.Files = append(idx.Files, File{Name: f.Name, Size: f.Size, Modified: f.ModTime.UTC().Truncate(time.Second)})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(idx)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	if err := indexPage.Execute(w, files); err != nil {
		h.logger().Warn("write log files page", "err", err)
	}
}

// PrefersJSON reports whether an Accept header ranks application/json
// above text/html. Each type gets the q of its most specific matching range
// (RFC 9110 §12.5.1); a tie goes to the more specific match, then to HTML,
// so browsers and curl's */* get the page.
func PrefersJSON(accept string) bool {
	jq, js := acceptQ(accept, "application", "json")
	hq, hs := acceptQ(accept, "text", "html")
	if jq != hq {
		return jq > hq
	}
	return jq > 0 && js > hs
}

// acceptQ returns the q that accept gives typ/sub and how specific the
// matching range was: 3 exact, 2 typ/*, 1 */*, 0 none (q 0).
func acceptQ(accept, typ, sub string) (q float64, specificity int) {
	for _, part := range strings.Split(accept, ",") {
		mediaRange, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		t, s, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mediaRange)), "/")
		spec := 0
		switch {
		case t == typ && s == sub:
			spec = 3
		case t == typ && s == "*":
			spec = 2
		case t == "*" && s == "*":
			spec = 1
		}
		if spec <= specificity {
			continue
		}
		specificity, q = spec, 1
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
	}
	return q, specificity
}

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"size":    humanSize,
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log Files</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem; color: #1f2328; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .35rem 1rem .35rem 0; border-bottom: 1px solid #d0d7de; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
a:focus-visible { outline: 2px solid #0969da; outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
</style>
</head>
<body>
<h1>Log Files</h1>
{{if .}}<table>
<thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Modified</th><th scope="col"><span class="visually-hidden">Views</span></th></tr></thead>
<tbody>
{{range .}}<tr>
<td><a href="logs/{{.Name}}">{{.Name}}</a>{{if .Live}} (live){{end}}{{if .Compressed}} (gzip, served as text){{end}}</td>
<td class="num" title="{{.Size}} bytes">{{size .Size}}</td>
<td><time datetime="{{rfc3339 .ModTime}}">{{utc .ModTime}}</time></td>
<td><a href="logs/{{.Name}}?tail=100">last 100 lines</a>{{if .Live}} · <a href="logs/{{.Name}}?tail=100&amp;follow=true">follow</a>{{end}}</td>
</tr>
{{end}}</tbody>
</table>{{else}}<p>No log files yet.</p>{{end}}
</body>
</html>
`))

// humanSize is n in B, KiB or MiB, one decimal.
func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
