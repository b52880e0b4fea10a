package sidecar

import (
	"net/http"

	eventsapi "github.com/trailcar/trailcar/internal/api/events"
	"github.com/trailcar/trailcar/internal/api/logs"
)

// mountLogs mounts the logs routes of the admin port (docs/admin-api.md "Log files"). Every
// request is an event (trailcar.logs.read); a follow stream's is written
// when it connects. Follow streams end at shutdown (s.done). Other methods
// answer 405 in JSON, audited like the rest. The index with scope=cluster
// and the {host}/{name} files answer for every pod (logs.Pods).
func (s *Sidecar) mountLogs(mux *http.ServeMux) {
	h := s.logsHandler()
	pods := logs.NewPods(h, s.cluster, s.cfg.Host)
	mux.Handle("GET /api/v3/logs", s.guarded(ActionLogsRead, nil, http.HandlerFunc(pods.ServeIndex)))
	mux.Handle("GET /api/v3/logs/{name}", s.guarded(ActionLogsRead, logs.IsFollow, http.HandlerFunc(h.ServeFile)))
	mux.Handle("GET /api/v3/logs/{host}/{name}", s.guarded(ActionLogsRead, logs.IsFollow, http.HandlerFunc(pods.ServeFile)))
	mux.Handle("/api/v3/logs", s.guarded(ActionLogsRead, nil, eventsapi.MethodNotAllowed("GET, HEAD")))
	mux.Handle("/api/v3/logs/{name}", s.guarded(ActionLogsRead, nil, eventsapi.MethodNotAllowed("GET, HEAD")))
	mux.Handle("/api/v3/logs/{host}/{name}", s.guarded(ActionLogsRead, nil, eventsapi.MethodNotAllowed("GET, HEAD")))
}

// logsHandler serves the log files, on the admin port and (console_logs)
// on the proxy port.
func (s *Sidecar) logsHandler() *logs.Handler {
	return &logs.Handler{Store: s.trail, Wake: s.writer.Written, Done: s.done, Logger: s.log}
}
