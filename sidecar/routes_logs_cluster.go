package sidecar

import (
	"cmp"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/jsonhttp"
)

// podFile is one file of the cluster's logs index.
type podFile struct {
	Name     string    `json:"name"` // {host}/{name}
	Host     string    `json:"host"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// serveLogsIndex is GET /api/v3/logs: this pod's files, or with
// scope=cluster every pod's, as {host}/{name}.
func (s *Sidecar) serveLogsIndex(h *logs.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("scope") {
		case "", "local":
			h.ServeIndex(w, r)
			return
		case "cluster":
		default:
			jsonhttp.Error(w, http.StatusBadRequest, "scope: want cluster or local")
			return
		}
		files, err := s.trail.Files()
		if err != nil {
			jsonhttp.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		var all []podFile
		for _, f := range files {
			all = append(all, podFile{Name: s.cfg.Host + "/" + f.Name, Host: s.cfg.Host, Size: f.Size, Modified: f.ModTime.UTC().Truncate(time.Second)})
		}
		states := []cluster.PeerState{}
		if s.cluster != nil {
			var answers []*cluster.Answer
			states, answers = s.cluster.Ask(r.Context(), http.MethodGet, "/api/v3/logs", url.Values{"scope": {"local"}}, cluster.Auth(r, "application/json"))
			for i, a := range answers {
				var idx logs.Index
				if a == nil || json.Unmarshal(a.Body, &idx) != nil || states[i].Host == "" {
					continue
				}
				for _, f := range idx.Files {
					all = append(all, podFile{Name: states[i].Host + "/" + f.Name, Host: states[i].Host, Size: f.Size, Modified: f.Modified})
				}
			}
		}
		slices.SortStableFunc(all, func(a, b podFile) int { return cmp.Compare(a.Host, b.Host) })
		w.Header().Set("Cache-Control", "no-store")
		if logs.PrefersJSON(r.Header.Get("Accept")) {
			jsonhttp.Write(w, http.StatusOK, map[string]any{"files": all, "partial": cluster.Partial(states), "peers": states})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		clusterIndexPage.Execute(w, map[string]any{"Files": all, "Peers": states})
	}
}

var clusterIndexPage = template.Must(template.New("cluster").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Log Files (every pod)</title>
<style>body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem; } th, td { text-align: left; padding: .3rem 1rem .3rem 0; border-bottom: 1px solid #d0d7de; }</style>
</head>
<body>
<h1>Log Files (every pod)</h1>
{{range .Peers}}{{if not .OK}}<p role="alert">Peer {{.URL}} did not answer: {{.Error}}</p>{{end}}{{end}}
<table>
<thead><tr><th scope="col">Pod / file</th><th scope="col">Bytes</th><th scope="col">Modified</th></tr></thead>
<tbody>
{{range .Files}}<tr><td><a href="logs/{{.Name}}">{{.Name}}</a></td><td>{{.Size}}</td><td>{{.Modified.Format "2006-01-02 15:04:05 UTC"}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

// servePodFile is GET /api/v3/logs/{host}/{name}: this pod's file, or the
// file read through the trailcar of the pod whose host it is (tail,
// follow and Range pass through; the caller's token goes with it).
func (s *Sidecar) servePodFile(h *logs.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host := r.PathValue("host")
		if host == s.cfg.Host {
			h.ServeFile(w, r)
			return
		}
		if s.cluster == nil {
			jsonhttp.Error(w, http.StatusNotFound, "no pod "+host+" (cluster.peers is empty)")
			return
		}
		states, _ := s.cluster.Ask(r.Context(), http.MethodGet, "/api/v3/logs", url.Values{"scope": {"local"}}, cluster.Auth(r, "application/json"))
		var peer string
		for _, st := range states {
			if st.OK && st.Host == host {
				peer = st.URL
			}
		}
		if peer == "" {
			status := http.StatusNotFound
			if cluster.Partial(states) {
				status = http.StatusServiceUnavailable
			}
			jsonhttp.Write(w, status, map[string]any{"error": "no pod " + host + " answered", "partial": cluster.Partial(states), "peers": states})
			return
		}
		target, _ := url.Parse(peer)
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path = "/api/v3/logs/" + url.PathEscape(r.PathValue("name"))
				pr.Out.URL.RawPath = ""
				q := pr.Out.URL.Query()
				q.Set("scope", "local")
				pr.Out.URL.RawQuery = q.Encode()
				pr.Out.Host = target.Host
			},
			FlushInterval: -1, // follow streams line by line
			ModifyResponse: func(resp *http.Response) error {
				resp.Header.Del("X-Trailcar-Host") // this pod answers; the file's host is in the path
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				jsonhttp.Error(w, http.StatusBadGateway, "pod "+host+": "+err.Error())
			},
		}
		rp.ServeHTTP(w, r)
	}
}
