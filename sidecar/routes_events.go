package sidecar

import (
	"fmt"
	"net/http"

	eventsapi "github.com/trailcar/trailcar/internal/api/events"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"
)

// mountEvents mounts the events routes of the admin port (docs/admin-api.md "Events API"). Each
// is guarded (token, and its own audit event: the stream's at connect);
// other methods on these paths answer 405.
func (s *Sidecar) mountEvents(mux *http.ServeMux, h *eventsapi.Handler) {
	read := func(fn http.HandlerFunc) http.Handler { return s.guarded(ActionEventsRead, nil, s.query(fn)) }
	del := func(fn http.HandlerFunc) http.Handler { return s.guarded(ActionEventsDelete, nil, s.query(fn)) }
	always := func(*http.Request) bool { return true }

	mux.Handle("GET /api/v3/events", read(h.List))
	mux.Handle("DELETE /api/v3/events", del(h.DeleteMatching))
	mux.Handle("/api/v3/events", s.guarded(ActionEventsRead, nil, eventsapi.MethodNotAllowed("GET, DELETE")))
	mux.Handle("GET /api/v3/events/stream", s.guarded(ActionEventsRead, always, http.HandlerFunc(h.Stream)))
	mux.Handle("GET /api/v3/events/{id}", read(h.Get))
	mux.Handle("DELETE /api/v3/events/{id}", del(h.Delete))
	mux.Handle("/api/v3/events/{id}", s.guarded(ActionEventsRead, nil, eventsapi.MethodNotAllowed("GET, DELETE")))
}

// query holds one of admin.max_queries slots while h builds its answer
// (docs/admin-api.md "Events API"): each holds up to a page of events, so the
// slots bound the memory of every answer at once. Past the limit it
// answers 429 at once, without waiting: a cluster answer that asks this
// pod gets "busy" for it rather than holding its own slot while it waits
// for ours (two pods asking each other could wait forever).
func (s *Sidecar) query(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.querySlots <- struct{}{}:
			defer func() { <-s.querySlots }()
		default:
			s.metrics.AdminRefused.WithLabelValues("queries").Inc()
			w.Header().Set("Retry-After", "1")
			jsonhttp.Error(w, http.StatusTooManyRequests, fmt.Sprintf("too many event queries at once (admin.max_queries: %d)", s.cfg.Admin.MaxQueries))
			return
		}
		h(w, r)
	})
}

// who says who made an admin request: creds and client address.
func (s *Sidecar) who(r *http.Request) (event.Creds, string) {
	return s.creds.FromHTTP(r), s.trusted.ClientIP(r.RemoteAddr, r.Header["X-Forwarded-For"])
}

// trailStore is the one reader of the audit files that every admin route
// shares (events, logs, notifications).
func (s *Sidecar) trailStore() *store.Store {
	t := s.cfg.ActivityTracker
	opts := store.Options{Dir: t.Dir, Filename: t.Filename, Logger: s.log}
	if s.file != nil {
		opts.Lock = s.file // a nil *rotate.File in the interface would not be nil
		// A delete never rewrites the live file: the writer ends it and
		// rotates it aside first (docs/store.md "Deletes").
		opts.RotateLive = s.writer.RotateForDelete
	}
	opts.Seal = s.seal
	return store.New(opts)
}

func (s *Sidecar) eventsHandler(trail *store.Store) *eventsapi.Handler {
	return &eventsapi.Handler{
		Store:       trail,
		Wake:        s.writer.Written,
		AllowDelete: s.cfg.Admin.AllowDelete,
		Record:      s.recordWritten,
		IDs:         s.ids,
		Who:         s.who,
		Done:        s.done,
		Logger:      s.log,
		Cluster:     s.cluster,
		Host:        s.cfg.Host,
	}
}
