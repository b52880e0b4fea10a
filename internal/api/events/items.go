package events

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// Get answers GET /api/v3/events/{id}: the event, or 404.
func (h *Handler) Get(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	line, err := h.Store.Get(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		jsonhttp.Error(w, http.StatusNotFound, "event "+id+" not found")
	case err != nil:
		h.internalError(w, r, err)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(line, '\n'))
	}
}

// pathID reads and checks the {id} of the path, answering 400 if bad.
func pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !event.ValidID(id) {
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("id: %q: %v", id, event.ErrBadID))
		return "", false
	}
	return id, true
}

// Delete answers DELETE /api/v3/events/{id}: {"deleted":1}, or 404.
func (h *Handler) Delete(w http.ResponseWriter, r *http.Request) {
	if !h.deleteAllowed(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	n, err := h.Store.DeleteID(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		jsonhttp.Error(w, http.StatusNotFound, "event "+id+" not found")
	case err != nil:
		h.internalError(w, r, err)
	default:
		h.RecordDelete(r, url.Values{"id": {id}}.Encode(), n)
		jsonhttp.Write(w, http.StatusOK, map[string]int{"deleted": n})
	}
}

// DeleteMatching answers DELETE /api/v3/events?…: it needs a filter, or
// all=true to delete everything; {"deleted":N}.
func (h *Handler) DeleteMatching(w http.ResponseWriter, r *http.Request) {
	if !h.deleteAllowed(w) {
		return
	}
	q := r.URL.Query()
	f, err := event.ParseFilter(q)
	if err != nil {
		badParam(w, err)
		return
	}
	all, err := parseAll(q)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if f.IsZero() && !all {
		jsonhttp.Error(w, http.StatusBadRequest, "all: a filter (since, before, level, …) or all=true is required to delete events")
		return
	}
	n, err := h.Store.Delete(r.Context(), &f)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	query := f.Query()
	if f.IsZero() {
		query.Set("all", "true")
	}
	h.RecordDelete(r, query.Encode(), n)
	jsonhttp.Write(w, http.StatusOK, map[string]int{"deleted": n})
}

func (h *Handler) deleteAllowed(w http.ResponseWriter) bool {
	if !h.AllowDelete {
		jsonhttp.Error(w, http.StatusForbidden, "deleting events is not allowed (admin.allow_delete: false)")
	}
	return h.AllowDelete
}

// RecordDelete records system.events.deleted: who made r, the filter as a
// query string, and how many events went. Every delete of the trail is
// recorded here (the notifications purge too).
func (h *Handler) RecordDelete(r *http.Request, filter string, n int) {
	if h.Record == nil {
		return
	}
	var creds event.Creds
	var addr string
	if h.Who != nil {
		creds, addr = h.Who(r)
	}
	by := (&event.Details{}).String("uuid", event.OrUnknown(creds.UUID)).String("name", event.OrUnknown(creds.Name)).
		String("type", event.OrUnknown(creds.Type)).String("address", event.OrUnknown(addr)).Object()
	details := (&event.Details{}).JSON("by", by).String("filter", filter).Int("count", int64(n)).Object()
	h.Record(&event.Event{
		Type: "system.events.deleted", Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Creds: creds, Address: addr,
		Message: fmt.Sprintf("%d events deleted (%s)", n, filter),
		Details: details,
	})
}
