package sidecar

import (
	"fmt"
	"net/http"

	"github.com/trailcar/trailcar/proxy/clientevent"
)

// interceptClientEvents returns the proxy's hook that answers client events
// (docs/client-events.md) on the proxy port instead of forwarding them, or nil when
// client_events is disabled (nothing is intercepted).
func (s *Sidecar) interceptClientEvents() (func(r *http.Request) http.Handler, error) {
	c := s.cfg.ClientEvents
	if !c.Enabled {
		return nil, nil
	}
	h, err := clientevent.New(clientevent.Options{
		Path: c.Path, Service: s.cfg.Service, Rate: c.Rate, Burst: c.Burst,
		Sink: s.writer, Trusted: s.trusted, Identity: s.creds, RequestIDHeader: s.cfg.RequestIDHeader,
		RedactFields: s.cfg.ActivityTracker.RedactFields,
		Logger:       s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("client_events: %w", err)
	}
	return h.Intercept, nil
}
