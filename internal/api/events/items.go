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
	scope, ok := h.scope(w, r)
	if !ok {
		return
	}
	line, err := h.Store.Get(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) && scope == ScopeCluster:
		h.getCluster(w, r, id)
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
	scope, ok := h.scope(w, r)
	if !ok {
		return
	}
	n, err := h.AuditedDelete(r, url.Values{"id": {id}}.Encode(), func(recordID string) (store.Deletion, error) {
		return h.Store.DeleteIDFor(r.Context(), id, recordID)
	})
	var pe *store.ProtectedError
	switch {
	case errors.As(err, &pe):
		protected(w, pe)
	case scope == ScopeCluster && (err == nil || errors.Is(err, store.ErrNotFound)):
		h.deleteCluster(w, r, id, r.URL.Query(), n)
	case errors.Is(err, store.ErrNotFound):
		jsonhttp.Error(w, http.StatusNotFound, "event "+id+" not found")
	case err != nil:
		h.internalError(w, r, err)
	default:
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
	scope, ok := h.scope(w, r)
	if !ok {
		return
	}
	query := f.Query()
	if f.IsZero() {
		query.Set("all", "true")
	}
	n, err := h.AuditedDelete(r, query.Encode(), func(recordID string) (store.Deletion, error) {
		return h.Store.DeleteFor(r.Context(), &f, recordID)
	})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if scope == ScopeCluster {
		h.deleteCluster(w, r, "", q, n)
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]int{"deleted": n})
}

// protectedAnswer is the 403 for a delete by the id of a line deletes
// never remove; Protected (its type) tells it, on a cluster, from a peer's
// 403 for admin.allow_delete: false.
type protectedAnswer struct {
	Error     string `json:"error"`
	Protected string `json:"protected"`
}

func protected(w http.ResponseWriter, pe *store.ProtectedError) {
	jsonhttp.Write(w, http.StatusForbidden, protectedAnswer{Error: pe.Error(), Protected: pe.Type})
}

func (h *Handler) deleteAllowed(w http.ResponseWriter) bool {
	if !h.AllowDelete {
		jsonhttp.Error(w, http.StatusForbidden, "deleting events is not allowed (admin.allow_delete: false)")
	}
	return h.AllowDelete
}

// AuditedDelete runs del and records system.events.deleted: who made r,
// the filter as a query string, how many events went, and, with integrity
// on, the files re-sealed (each with the chain it ended with before and
// after). The record's id is made first: del marks what it re-seals with
// it. Every delete of the trail goes through here (the notifications purge
// too).
func (h *Handler) AuditedDelete(r *http.Request, filter string, del func(recordID string) (store.Deletion, error)) (int, error) {
	e := &event.Event{Type: "system.events.deleted", Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
	if h.IDs != nil {
		e.ID = h.IDs.New()
	}
	d, err := del(e.ID)
	if err != nil || h.Record == nil {
		return d.Count, err
	}
	if h.Who != nil {
		e.Creds, e.Address = h.Who(r)
	}
	by := (&event.Details{}).String("uuid", event.OrUnknown(e.Creds.UUID)).String("name", event.OrUnknown(e.Creds.Name)).
		String("type", event.OrUnknown(e.Creds.Type)).String("address", event.OrUnknown(e.Address)).Object()
	details := (&event.Details{}).JSON("by", by).String("filter", filter).Int("count", int64(d.Count))
	if len(d.Files) > 0 {
		files := []byte{'['}
		for i, f := range d.Files {
			if i > 0 {
				files = append(files, ',')
			}
			cps := []byte{'['}
			for j, c := range f.Checkpoints {
				if j > 0 {
					cps = append(cps, ',')
				}
				cps = append(cps, (&event.Details{}).Int("seq", int64(c.Seq)).String("old_chain", c.OldChain).
					String("new_chain", c.NewChain).Object()...)
			}
			files = append(files, (&event.Details{}).String("file", f.File).String("old_chain", f.OldChain.String()).
				String("new_chain", f.NewChain.String()).JSON("checkpoints", append(cps, ']')).Object()...)
		}
		details.JSON("files", append(files, ']'))
	}
	e.Message = fmt.Sprintf("%d events deleted (%s)", d.Count, filter)
	e.Details = details.Object()
	h.Record(r.Context(), e)
	return d.Count, nil
}
