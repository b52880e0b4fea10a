package sidecar

import (
	"fmt"
	"net/http"

	"github.com/trailcar/trailcar/internal/api/viewer"
)

// mountViewer mounts the web viewer (docs/viewer.md): the page at "/" and its
// files under "/ui/". They need no token and are not audited: they are the
// same static files for everyone, and every API call the page makes is
// checked and audited as usual.
func (s *Sidecar) mountViewer(mux *http.ServeMux) error {
	v, err := viewer.New()
	if err != nil {
		return fmt.Errorf("web viewer: %w", err)
	}
	mux.Handle("GET /{$}", v)
	mux.Handle("GET /ui/", v)
	return nil
}
