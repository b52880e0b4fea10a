package sidecar

import "net/http"

// mountEvents mounts the events routes of the admin port (SPEC §4).
func (s *Sidecar) mountEvents(mux *http.ServeMux) {}
