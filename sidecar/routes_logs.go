package sidecar

import "net/http"

// mountLogs mounts the logs routes of the admin port (SPEC §4).
func (s *Sidecar) mountLogs(mux *http.ServeMux) {}
