package sidecar

import (
	"context"
	"fmt"
	"net/http"

	eventsapi "github.com/trailcar/trailcar/internal/api/events"
	"github.com/trailcar/trailcar/internal/api/notifications"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// writtenSink is the notifications' sink: the writer, waiting for each
// record to be in the file before the answer.
type writtenSink struct{ s *Sidecar }

func (w writtenSink) EmitWritten(ctx context.Context, e *event.Event) error {
	return w.s.emitWritten(ctx, e)
}

// mountNotifications mounts the notifications routes of the admin port
// (docs/notifications.md): create, list, bulk archive and purge, each
// behind the token and audited with its own action. Other methods on
// these paths answer 405 in JSON, audited like the rest.
func (s *Sidecar) mountNotifications(mux *http.ServeMux, trail *store.Store, events *eventsapi.Handler) error {
	h, err := notifications.New(notifications.Options{
		Sink: writtenSink{s}, Store: trail, Trusted: s.trusted, Logger: s.log,
		AllowDelete: s.cfg.Admin.AllowDelete, AuditedDelete: events.AuditedDelete, Who: s.who,
	})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	route := func(action string, h http.Handler) http.Handler { return s.guarded(action, nil, h) }
	// athena serves them under every API version: /api/v1, v2 and v3.
	for _, v := range [...]string{"v1", "v2", "v3"} {
		base := "/api/" + v + "/notifications"
		mux.Handle("POST "+base, route(ActionNotificationsCreate, http.HandlerFunc(h.Create)))
		mux.Handle("GET "+base, route(ActionNotificationsRead, http.HandlerFunc(h.ListNotifications)))
		mux.Handle(base, route(ActionNotificationsCreate, eventsapi.MethodNotAllowed("GET, POST")))
		mux.Handle("POST "+base+"/bulk", route(ActionNotificationsArchive, http.HandlerFunc(h.Archive)))
		mux.Handle(base+"/bulk", route(ActionNotificationsArchive, eventsapi.MethodNotAllowed("POST")))
		mux.Handle("DELETE "+base+"/purge", route(ActionNotificationsPurge, http.HandlerFunc(h.Purge)))
		mux.Handle(base+"/purge", route(ActionNotificationsPurge, eventsapi.MethodNotAllowed("DELETE")))
	}
	return nil
}
