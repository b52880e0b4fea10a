package sidecar

import (
	"crypto/ed25519"
	"net/http"

	eventsapi "github.com/trailcar/trailcar/internal/api/events"
	integrityapi "github.com/trailcar/trailcar/internal/api/integrity"
	"github.com/trailcar/trailcar/internal/jsonhttp"
)

// mountIntegrity mounts GET /api/v3/integrity (docs/integrity.md "Verify"):
// verify's verdict on the running trail, guarded and audited
// (trailcar.integrity.read). With integrity off it answers 404.
func (s *Sidecar) mountIntegrity(mux *http.ServeMux) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Error(w, http.StatusNotFound, "integrity is off (integrity.enabled: false)")
	})
	if s.seal != nil {
		ih := &integrityapi.Handler{Store: s.trail, Hold: s.seal, Host: s.cfg.Host, Logger: s.log}
		if s.cluster != nil {
			ih.Cluster = s.cluster // a nil *cluster.Cluster would still be set
		}
		if key := s.seal.Key(); key != nil {
			ih.Public = key.Public().(ed25519.PublicKey)
		}
		h = ih
	}
	mux.Handle("GET /api/v3/integrity", s.guarded(ActionIntegrityRead, nil, h))
	mux.Handle("/api/v3/integrity", s.guarded(ActionIntegrityRead, nil, eventsapi.MethodNotAllowed("GET, HEAD")))
}
