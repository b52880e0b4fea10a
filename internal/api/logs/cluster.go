package logs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"time"

	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/jsonhttp"
)

// Pods answers the admin port's logs routes for every pod (docs/cluster.md "One
// trail across pods"): the index with scope=cluster lists each pod's files
// as {host}/{name}, and /api/v3/logs/{host}/{name} reads one pod's file,
// here or relayed from that pod's trailcar. Only the admin port mounts it;
// the console's routes (Console) stay this pod's.
type Pods struct {
	local   *Handler
	cluster *cluster.Cluster // nil: no peers, this pod is the cluster
	host    string
	relay   *httputil.ReverseProxy
}

// NewPods answers for this pod (host, its files served by local) and the
// peers of c, which may be nil.
//
// A peer's file is relayed through c's own client (Cluster.Transport):
// its dial timeout, no proxy from the environment, no redirect followed,
// the timeout bounding the wait for the answer's head. tail, follow,
// Range and conditional requests pass through with the caller's token;
// a follow stream is relayed line by line until the caller leaves, the
// peer's stream ends or local.Done is closed (shutdown).
func NewPods(local *Handler, c *cluster.Cluster, host string) *Pods {
	p := &Pods{local: local, cluster: c, host: host}
	if c != nil {
		p.relay = &httputil.ReverseProxy{
			Rewrite:       rewriteToPeer,
			Transport:     c.Transport(),
			FlushInterval: -1, // follow streams line by line
			ModifyResponse: func(resp *http.Response) error {
				resp.Header.Del("X-Trailcar-Host") // this pod answers; the file's host is in the path
				return nil
			},
			ErrorHandler: relayError,
			ErrorLog:     slog.NewLogLogger(local.logger().Handler(), slog.LevelWarn),
		}
	}
	return p
}

// podFile is one file of the cluster's logs index.
type podFile struct {
	Name     string    `json:"name"` // {host}/{name}
	Host     string    `json:"host"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// ServeIndex is GET /api/v3/logs: this pod's files (Handler.ServeIndex),
// or with scope=cluster every pod's, as {host}/{name}, in JSON
// {"files","partial","peers"} or the HTML page.
func (p *Pods) ServeIndex(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("scope") {
	case "", "local":
		p.local.ServeIndex(w, r)
		return
	case "cluster":
	default:
		jsonhttp.Error(w, http.StatusBadRequest, "scope: want cluster or local")
		return
	}
	files, err := p.local.Store.Files()
	if err != nil {
		p.local.internalError(w, "list audit files", err)
		return
	}
	var all []podFile
	for _, f := range files {
		all = append(all, podFile{Name: p.host + "/" + f.Name, Host: p.host, Size: f.Size, Modified: f.ModTime.UTC().Truncate(time.Second)})
	}
	states := []cluster.PeerState{}
	if p.cluster != nil {
		var answers []*cluster.Answer
		states, answers = p.askIndex(r)
		for i, a := range answers {
			var idx Index
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
	w.Header().Set("Vary", "Accept")
	if PrefersJSON(r.Header.Get("Accept")) {
		jsonhttp.Write(w, http.StatusOK, map[string]any{"files": all, "partial": cluster.Partial(states), "peers": states})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	if err := clusterIndexPage.Execute(w, map[string]any{"Files": all, "Peers": states}); err != nil {
		p.local.logger().Warn("write cluster log files page", "err", err)
	}
}

// askIndex asks every peer for its own index, which also says, in
// X-Trailcar-Host, which pod each peer is.
func (p *Pods) askIndex(r *http.Request) ([]cluster.PeerState, []*cluster.Answer) {
	return p.cluster.Ask(r.Context(), http.MethodGet, "/api/v3/logs", url.Values{"scope": {"local"}}, cluster.Auth(r, "application/json"))
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

// ServeFile is GET /api/v3/logs/{host}/{name}: this pod's file
// (Handler.ServeFile), or the file of the peer whose host it is, relayed.
func (p *Pods) ServeFile(w http.ResponseWriter, r *http.Request) {
	host := r.PathValue("host")
	if host == p.host {
		p.local.ServeFile(w, r)
		return
	}
	if p.cluster == nil {
		jsonhttp.Error(w, http.StatusNotFound, "no pod "+host+" (cluster.peers is empty)")
		return
	}
	states, _ := p.askIndex(r)
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
	target, err := url.Parse(peer)
	if err != nil { // Peers gives only URLs it parsed
		p.local.internalError(w, "relay from "+host, err)
		return
	}
	ctx, cancel := context.WithCancel(context.WithValue(r.Context(), peerKey{}, relayTo{base: target, host: host}))
	defer cancel()
	if p.local.Done != nil {
		// A relayed follow stream ends at shutdown, as this pod's own do.
		go func() {
			select {
			case <-p.local.Done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	p.relay.ServeHTTP(w, r.WithContext(ctx))
}

// peerKey holds, in the context of a relayed request, the relayTo of the
// peer it goes to.
type peerKey struct{}

// relayTo is the peer a request is relayed to: its base URL and its host.
type relayTo struct {
	base *url.URL
	host string
}

// rewriteToPeer asks the peer for its own file of that name, with the
// caller's query (tail, follow) and headers (token, Range), scope=local.
func rewriteToPeer(pr *httputil.ProxyRequest) {
	pr.SetURL(pr.In.Context().Value(peerKey{}).(relayTo).base)
	name := pr.In.PathValue("name")
	pr.Out.URL.Path = "/api/v3/logs/" + name
	pr.Out.URL.RawPath = "/api/v3/logs/" + url.PathEscape(name) // a name is one segment, whatever it holds
	q := pr.Out.URL.Query()
	q.Set("scope", "local")
	pr.Out.URL.RawQuery = q.Encode()
}

// relayError answers a peer that could not be read: 504 when it did not
// answer in time, else 502 (refused, a redirect, a broken answer).
func relayError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	if errors.Is(err, cluster.ErrTimeout) {
		status = http.StatusGatewayTimeout
	}
	peer, _ := r.Context().Value(peerKey{}).(relayTo)
	jsonhttp.Error(w, status, "pod "+peer.host+": "+err.Error())
}
