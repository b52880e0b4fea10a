package sidecar

import (
	"fmt"
	"net/http"

	"github.com/trailcar/trailcar/internal/api/notifications"
)

// mountNotifications mounts the notifications routes of the admin port (README
// "Notifications"): POST /api/v3/notifications, behind the token and audited as
// trailcar.notifications.create. Every method is routed here, so that a
// wrong one is answered 405 in JSON and audited like the rest.
func (s *Sidecar) mountNotifications(mux *http.ServeMux) error {
	h, err := notifications.New(notifications.Options{
		Sink: s.writer, IDs: s.ids, Trusted: s.trusted, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	mux.Handle("/api/v3/notifications", s.guarded(ActionNotificationsCreate, nil, h))
	return nil
}
