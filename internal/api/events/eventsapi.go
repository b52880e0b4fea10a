// Package eventsapi serves the events routes of the admin port (docs/admin-api.md "Events API"):
// list with filters and cursor paging, get, delete by id and by filter,
// and the live stream (server-sent events). Authentication and the audit
// event of each request are the caller's (the sidecar wraps every
// handler); this package answers.
package events

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// Store is the query engine (*store.Store).
type Store interface {
	List(ctx context.Context, q store.Query) (store.Page, error)
	Get(ctx context.Context, id string) ([]byte, error)
	Delete(ctx context.Context, f *event.Filter) (int, error)
	DeleteID(ctx context.Context, id string) (int, error)
	DeleteFor(ctx context.Context, f *event.Filter, recordID string) (store.Deletion, error)
	DeleteIDFor(ctx context.Context, id, recordID string) (store.Deletion, error)
	FollowEvents(ctx context.Context, f *event.Filter, opts store.FollowOptions, fn func(line []byte) error) error
}

var _ Store = (*store.Store)(nil)

// Handler holds the events routes' dependencies. Its methods are the
// routes' handlers.
type Handler struct {
	Store Store
	// Wake, if set, tells streams that something was written
	// (*audit.Writer.Written), so they need not wait for their next poll.
	Wake func() <-chan struct{}
	// AllowDelete: when false, both DELETE routes answer 403.
	AllowDelete bool
	// Record receives the system.events.deleted event of each delete,
	// and returns once its line is in the file (or ctx ends, or a bound
	// of its own passes): the answer comes after, so a list right after it
	// shows the record (docs/guarantees.md "Read your writes").
	Record func(ctx context.Context, e *event.Event)
	// IDs makes the records' ids (they are known before the delete, which
	// marks the files it re-seals with them); nil: the writer makes them.
	IDs *event.IDs
	// Who says who made a request: creds and client address, recorded
	// in system.events.deleted. If nil, nobody is named.
	Who func(*http.Request) (event.Creds, string)
	// Done, when closed, ends the streams (shutdown).
	Done <-chan struct{}
	// Heartbeat is how often a stream sends a comment to keep idle
	// connections open; 0 means 15s.
	Heartbeat time.Duration
	// Poll is how often a stream looks for new lines when Wake does not
	// say; 0 means 250ms.
	Poll time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Cluster, when set, makes scope=cluster (the default) answer for
	// every pod; Host is this pod's, as its events carry it.
	Cluster *cluster.Cluster
	Host    string
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// MethodNotAllowed answers 405 with the methods a route allows.
func MethodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		jsonhttp.Error(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; allowed: "+allow)
	})
}

// internalError answers 500 (an I/O failure on the audit files) and logs it.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.logger().Error("events API", "method", r.Method, "path", r.URL.Path, "err", err)
	jsonhttp.Error(w, http.StatusInternalServerError, err.Error())
}
