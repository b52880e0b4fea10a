package sidecar

import "net/http"

// mountViewer mounts the viewer routes of the admin port (SPEC §4).
func (s *Sidecar) mountViewer(mux *http.ServeMux) {}
