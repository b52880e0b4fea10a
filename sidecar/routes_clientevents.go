package sidecar

import "net/http"

// interceptClientEvents returns the proxy's hook that answers client events
// (SPEC §3.5) on the proxy port instead of forwarding them.
func (s *Sidecar) interceptClientEvents() func(r *http.Request) http.Handler { return nil }
