package sidecar

import "net/http"

// mountNotifications mounts the notifications routes of the admin port (SPEC §4).
func (s *Sidecar) mountNotifications(mux *http.ServeMux) {}
