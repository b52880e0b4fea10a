package logs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"
)

// Console serves the logs routes on the proxy port, where the IBM
// console's users look for them (GET /api/v[123]/logs and
// /api/v[123]/logs/{name} on the console's own address), each request
// authorized first by the app, as nginx's auth_request does: trailcar
// sends GET AuthURL to the app with the caller's Authorization, Cookie
// and X-API-Key headers and nothing else; a 2xx lets the read through,
// 401 and 403 are passed back as the app gave them, anything else (the
// app down included) is 502.
type Console struct {
	Logs *Handler
	// AuthURL is the app's URL that answers 2xx to callers allowed to
	// read the logs (upstream + console_logs.auth_path).
	AuthURL string
	// Client sends the authorization requests; nil means one with a 5 s
	// timeout and no compression (so no header is added).
	Client *http.Client

	mux *http.ServeMux
}

// NewConsole serves logs on the proxy port, authorized by authURL.
func NewConsole(logs *Handler, authURL string) *Console {
	mux := http.NewServeMux()
	for _, v := range []string{"v1", "v2", "v3"} {
		mux.HandleFunc("GET /api/"+v+"/logs", logs.ServeIndex)
		mux.HandleFunc("GET /api/"+v+"/logs/{name}", logs.ServeFile)
	}
	return &Console{Logs: logs, AuthURL: authURL, mux: mux}
}

// authHeaders are the only headers the authorization request carries.
var authHeaders = [...]string{"Authorization", "Cookie", "X-Api-Key"}

// maxAuthBody bounds what is passed back of the app's 401 or 403.
const maxAuthBody = 64 << 10

// Match reports whether r is a logs read the console serves: a GET or HEAD
// of /api/v1, v2 or v3 /logs or /logs/{name}, in canonical form.
func (c *Console) Match(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/api/v")
	if !ok || len(rest) < 1 || rest[0] < '1' || rest[0] > '3' || !canonical(p) {
		return false
	}
	rest = rest[1:]
	if rest == "/logs" {
		return true
	}
	name, ok := strings.CutPrefix(rest, "/logs/")
	return ok && name != "" && !strings.Contains(name, "/")
}

// ServeHTTP authorizes r with the app, then serves it.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The read is audited like an admin read: tracked, with the logs
	// action, whatever the tracking rules say of this path.
	w.Header().Set("X-Audit-Track", "true")
	w.Header().Set("X-Audit-Action", "trailcar.logs.read")
	if !c.authorize(w, r) {
		return
	}
	c.mux.ServeHTTP(w, r)
}

// authorize asks the app; it answers the refusal itself and reports
// whether the read may go on.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) bool {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.AuthURL, nil)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadGateway, "authorization request: "+err.Error())
		return false
	}
	req.Header = http.Header{"User-Agent": {""}} // "": no User-Agent is sent
	for _, name := range authHeaders {
		if v, ok := r.Header[name]; ok {
			req.Header[name] = v
		}
	}
	client := c.Client
	if client == nil {
		client = defaultAuthClient
	}
	resp, err := client.Do(req)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadGateway, "the app did not answer the authorization request")
		return false
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxAuthBody))
		return true
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		for _, name := range []string{"Content-Type", "WWW-Authenticate"} {
			if v := resp.Header.Get(name); v != "" {
				w.Header().Set(name, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, maxAuthBody))
		return false
	}
	jsonhttp.Error(w, http.StatusBadGateway, fmt.Sprintf("the app answered the authorization request with %d", resp.StatusCode))
	return false
}

var defaultAuthClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second},
	// The app's redirect (to a login page, say) is its answer, not one to follow.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
