// Package demoapp is a small upstream app for `trailcar demo`: a few
// console-like routes that answer 200, 201, 403 and 500, one that states
// audit details through X-Audit-* headers, and one server-sent event stream.
package demoapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// App is the demo upstream. The zero value is not usable; use New.
type App struct {
	mu         sync.Mutex
	components map[string]string // id -> name
	next       int
}

// New returns an App with two components.
func New() *App {
	return &App{components: map[string]string{"c1": "peer-org1", "c2": "orderer-org1"}, next: 3}
}

// Handler routes the demo app.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("GET /api/v3/components", a.list)
	mux.HandleFunc("POST /api/v3/components", a.create)
	mux.HandleFunc("DELETE /api/v3/components/{id}", a.remove)
	mux.HandleFunc("GET /api/v3/components/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /auth/login", a.login)
	mux.HandleFunc("GET /api/v3/settings/secret", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
	})
	mux.HandleFunc("GET /api/v3/broken", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "something broke"})
	})
	mux.HandleFunc("GET /api/v3/ticks", ticks)
	return mux
}

const page = `<!doctype html><meta charset="utf-8"><title>trailcar demo app</title>
<h1>trailcar demo app</h1>
<p>This is the app behind the proxy. Try (through the proxy port):</p>
<pre>
curl -X POST PROXY/api/v3/components -d '{"name":"peer-org2"}'   # 201, tracked, X-Audit-* details
curl PROXY/api/v3/components                                     # 200, not tracked (GET)
curl PROXY/api/v3/settings/secret                                # 403, tracked (status)
curl PROXY/api/v3/broken                                         # 500, GET: not tracked
curl -X DELETE PROXY/api/v3/components/c1                        # 200, tracked
curl -X POST PROXY/auth/login -d user=alice                      # tracked as console.users.login
curl -N PROXY/api/v3/ticks                                       # a server-sent event stream
</pre>
<p>Then open the admin URL to see the events.</p>`

func (a *App) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, strings.ReplaceAll(page, "PROXY", "http://"+r.Host))
}

func (a *App) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []map[string]string{}
	for id, name := range a.components {
		out = append(out, map[string]string{"id": id, "name": name})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *App) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || in.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"name": "..."}`})
		return
	}
	a.mu.Lock()
	id := fmt.Sprintf("c%d", a.next)
	a.next++
	a.components[id] = in.Name
	a.mu.Unlock()
	h := w.Header()
	h.Set("X-Audit-Resource", "components:"+id)
	h.Set("X-Audit-Message", "component "+in.Name+" created")
	details, _ := json.Marshal(map[string]string{"name": in.Name, "created_by": "demo app"})
	h.Set("X-Audit-Details", string(details))
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "name": in.Name})
}

func (a *App) remove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	_, ok := a.components[id]
	delete(a.components, id)
	a.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such component"})
		return
	}
	w.Header().Set("X-Audit-Action", "console.components.delete")
	w.Header().Set("X-Audit-Resource", "components:"+id)
	writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("user")
	if user == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "no user"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "session", Value: "demo-" + user, Path: "/", HttpOnly: true})
	w.Header().Set("X-Audit-User-Name", user)
	w.Header().Set("X-Audit-Auth-Type", "user")
	writeJSON(w, http.StatusOK, map[string]string{"user": user})
}

// ticks streams one server-sent event a second until the client leaves.
func ticks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for i := 0; ; i++ {
		fmt.Fprintf(w, "data: {\"tick\":%d}\n\n", i)
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
