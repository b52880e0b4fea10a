package sidecar

import "net/http"

// The admin API routes are mounted here, each area by its own function so
// the areas stay apart: events (list/get/delete/stream), logs (files and
// follow), notifications, and the web viewer at /.

func (s *Sidecar) mountEvents(mux *http.ServeMux) {}

func (s *Sidecar) mountLogs(mux *http.ServeMux) {}

func (s *Sidecar) mountNotifications(mux *http.ServeMux) {}

func (s *Sidecar) mountViewer(mux *http.ServeMux) {}

// interceptClientEvents returns the proxy's hook for client events.
func (s *Sidecar) interceptClientEvents() func(r *http.Request) http.Handler { return nil }
