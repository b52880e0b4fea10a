package sidecar

import (
	"net/http"

	"github.com/trailcar/trailcar/eventsapi"
	"github.com/trailcar/trailcar/logfiles"
)

// mountLogs mounts the logs routes of the admin port (SPEC §4). Every
// request is an event (trailcar.logs.read); a follow stream's is written
// when it connects. Follow streams end at shutdown (s.done). Other methods
// answer 405 in JSON, audited like the rest.
func (s *Sidecar) mountLogs(mux *http.ServeMux) {
	logs := &logfiles.Handler{
		Dir:      s.cfg.ActivityTracker.Dir,
		Filename: s.cfg.ActivityTracker.Filename,
		Done:     s.done,
		Logger:   s.log,
	}
	mux.Handle("GET /api/v3/logs", s.guarded(ActionLogsRead, nil, http.HandlerFunc(logs.ServeIndex)))
	mux.Handle("GET /api/v3/logs/{name}", s.guarded(ActionLogsRead, logfiles.IsFollow, http.HandlerFunc(logs.ServeFile)))
	mux.Handle("/api/v3/logs", s.guarded(ActionLogsRead, nil, eventsapi.MethodNotAllowed("GET, HEAD")))
	mux.Handle("/api/v3/logs/{name}", s.guarded(ActionLogsRead, nil, eventsapi.MethodNotAllowed("GET, HEAD")))
}
