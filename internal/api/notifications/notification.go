// Package notifications records what an app reports itself, and manages
// those records as the IBM console's notification APIs do (docs/notifications.md). POST /api/v3/notifications on the admin port with
//
//	{"message":"channel MyChannel created","status":"success","by":"alice",
//	 "component_id":"MyChannel","component_type":"channel","details":{…}}
//
// becomes one event of type notification, answered
// 201 {"message":"ok","id":"<event id>"}.
//
// Fields: message (required, a string of 1 to 4096 bytes); status
// (optional, "success", the default, or "error": level error, outcome
// failure); by (optional: creds.name, with creds.type "app"); component_id
// and component_type (optional: resource.id and resource.type); details
// (optional, an object). Any other key is refused, naming it, so that a
// misspelt field is not silently lost. A refusal is 400
// {"error":"<field>: …"}; a body over 64 KiB is 400 too, as for client
// events; a Content-Type other than JSON is 415.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

// Limits on a notification.
const (
	MaxBody    = 64 << 10 // bytes of request body
	MaxMessage = 4 << 10  // bytes of message
	MaxName    = 256      // bytes of by, component_id, component_type
)

// Statuses.
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// Sink takes finished events. EmitWritten queues e and returns once its
// line is in the file (or ctx ends, or a bound of its own passes: then
// nil, the line being queued), so that the answer after it is read back
// by the next list (docs/guarantees.md "Read your writes"). It sets e.ID
// when it is empty (the audit writer: from the moment e is queued), and
// must not keep e after it returns.
type Sink interface {
	EmitWritten(ctx context.Context, e *event.Event) error
}

// Store is what managing notifications needs of the trail (*store.Store).
type Store interface {
	Each(ctx context.Context, f *event.Filter, from *store.Cursor, fn func(line []byte) error) (store.Stats, error)
	DeleteFor(ctx context.Context, f *event.Filter, recordID string) (store.Deletion, error)
}

// Options configure a Handler. Sink is required; Store for the list,
// archive and purge routes.
type Options struct {
	Sink  Sink
	Store Store
	// AllowDelete: when false, purge answers 403.
	AllowDelete bool
	// AuditedDelete runs a purge and records its system.events.deleted
	// (the events API's, so every delete is recorded alike).
	AuditedDelete func(r *http.Request, filter string, del func(recordID string) (store.Deletion, error)) (int, error)
	// Who says who made a request, for the archive record.
	Who func(*http.Request) (event.Creds, string)
	// Trusted are the proxies whose X-Forwarded-For is believed, for the
	// event's address.
	Trusted identity.Trusted
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Handler answers the notifications routes. Authentication is not its
// business: the admin port's guard runs first.
type Handler struct {
	opts Options
	log  *slog.Logger
}

// New returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Sink == nil {
		return nil, errors.New("notification: Options.Sink is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{opts: opts, log: opts.Logger}, nil
}

// Create answers POST /api/v3/notifications: it records the notification
// in r's body.
func (h *Handler) Create(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r.Header.Get("Content-Type")) {
		jsonhttp.Error(w, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Type: %q: want application/json", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("body: larger than %d bytes", MaxBody))
		return
	case err != nil:
		jsonhttp.Error(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	n, err := Parse(body)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	e := n.Event() // its id is the sink's to make, stamped with its time
	e.Address = h.opts.Trusted.ClientIP(r.RemoteAddr, r.Header["X-Forwarded-For"])
	if err := h.opts.Sink.EmitWritten(r.Context(), e); err != nil {
		h.log.Warn("notification not recorded", "err", err)
		jsonhttp.Error(w, http.StatusServiceUnavailable, "notification not recorded: "+err.Error())
		return
	}
	jsonhttp.Write(w, http.StatusCreated, map[string]string{"message": "ok", "id": e.ID})
}

// isJSON accepts application/json and any application/*+json, with
// parameters (charset).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || len(mt) > len("application/+json") &&
		mt[:len("application/")] == "application/" && mt[len(mt)-len("+json"):] == "+json"
}
