package notifications

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"
)

// TypeArchived is the record of an archive: the trail stays append-only,
// so archiving notifications appends one event naming them.
const TypeArchived = "system.notification.archived"

// Limits of the management routes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	MaxArchive   = 1000 // ids in one bulk archive
)

// Item is one notification as the list answers it, in the fields of the
// IBM console's notification API.
type Item struct {
	ID          string `json:"id"`
	Type        string `json:"type"` // always "other": the console's type for app notifications
	Status      string `json:"status"`
	Message     string `json:"message"`
	TSDisplay   int64  `json:"ts_display"` // Unix ms: the app's, else the event's time
	By          string `json:"by"`
	ComponentID string `json:"component_id"`
}

// List is the answer of GET /api/v3/notifications.
type List struct {
	Total         int    `json:"total"`
	Returning     int    `json:"returning"`
	Notifications []Item `json:"notifications"`
}

// listQuery is what the list route was asked.
type listQuery struct {
	limit, skip     int
	componentID     string
	includeArchived bool
}

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{limit: DefaultLimit, componentID: q.Get("component_id")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return lq, fmt.Errorf("limit: %q: want a number from 1 to %d", v, MaxLimit)
		}
		lq.limit = n
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, fmt.Errorf("skip: %q: want 0 or more", v)
		}
		lq.skip = n
	}
	switch v := q.Get("archived"); v {
	case "", "false":
	case "true":
		lq.includeArchived = true
	default:
		return lq, fmt.Errorf("archived: %q: want true or false", v)
	}
	return lq, nil
}

// notificationsAndArchives selects the two types a listing reads, in one
// pass: archive records are newer than what they archive, so a walk newest
// first knows an id is archived before it meets the notification.
func notificationsAndArchives() *event.Filter {
	f := &event.Filter{Type: "{" + event.TypeNotification + "," + TypeArchived + "}"}
	if err := f.Compile(); err != nil {
		panic(err) // a constant glob
	}
	return f
}

// walk calls fn with each notification, newest first, and whether it was
// archived.
func (h *Handler) walk(ctx context.Context, fn func(e *event.Event, archived bool)) error {
	archived := map[string]bool{}
	_, err := h.opts.Store.Each(ctx, notificationsAndArchives(), nil, func(line []byte) error {
		var e event.Event
		if event.Decode(line, &e) != nil {
			return nil // counted and skipped by the store's reader as invalid elsewhere
		}
		if e.Type == TypeArchived {
			for _, id := range archivedIDs(e.Details) {
				archived[id] = true
			}
			return nil
		}
		fn(&e, archived[e.ID])
		return nil
	})
	return err
}

func archivedIDs(details json.RawMessage) []string {
	var d struct {
		IDs []string `json:"notification_ids"`
	}
	json.Unmarshal(details, &d)
	return d.IDs
}

// ListNotifications answers GET /api/v3/notifications?limit=&skip=&component_id=&archived=:
// {"total":N,"returning":M,"notifications":[…]}, newest first, archived
// ones left out unless archived=true. total is every notification in the
// trail before the filters, as athena's ("number of notifications in db
// (pre filter)"); skip and limit page through the ones that pass them.
func (h *Handler) ListNotifications(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query())
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	out := List{Notifications: []Item{}}
	matched := 0
	err = h.walk(r.Context(), func(e *event.Event, archived bool) {
		out.Total++
		if archived && !lq.includeArchived || lq.componentID != "" && e.Resource.ID != lq.componentID {
			return
		}
		matched++
		if matched > lq.skip && len(out.Notifications) < lq.limit {
			out.Notifications = append(out.Notifications, item(e))
		}
	})
	if err != nil {
		h.log.Error("list notifications", "err", err)
		jsonhttp.Error(w, http.StatusInternalServerError, "list notifications failed")
		return
	}
	out.Returning = len(out.Notifications)
	jsonhttp.Write(w, http.StatusOK, out)
}

func item(e *event.Event) Item {
	it := Item{ID: e.ID, Type: "other", Status: StatusSuccess, Message: e.Message, ComponentID: e.Resource.ID,
		TSDisplay: e.Time.UnixMilli()}
	if e.Level == event.LevelError {
		it.Status = StatusError
	}
	if e.Creds.Name != event.Unknown {
		it.By = e.Creds.Name
	}
	var d struct {
		TSDisplay int64 `json:"ts_display"`
	}
	if json.Unmarshal(e.Details, &d) == nil && d.TSDisplay > 0 {
		it.TSDisplay = d.TSDisplay
	}
	return it
}

// Archive answers POST /api/v3/notifications/bulk {"notification_ids":[…]}:
// it appends one system.notification.archived event naming those that are
// notifications not archived yet, and says how many:
// {"message":"ok","details":"archived N notification(s)"}.
func (h *Handler) Archive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	var req struct {
		IDs []string `json:"notification_ids"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, "body: want {\"notification_ids\":[…]}: "+err.Error())
		return
	}
	if len(req.IDs) == 0 || len(req.IDs) > MaxArchive {
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("notification_ids: %d ids: want 1 to %d", len(req.IDs), MaxArchive))
		return
	}
	wanted := map[string]bool{}
	for i, id := range req.IDs {
		if !event.ValidID(id) {
			jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("notification_ids[%d]: %q: %v", i, id, event.ErrBadID))
			return
		}
		wanted[id] = true
	}
	var found []string
	err = h.walk(r.Context(), func(e *event.Event, archived bool) {
		if wanted[e.ID] && !archived {
			found = append(found, e.ID)
		}
	})
	if err != nil {
		h.log.Error("archive notifications", "err", err)
		jsonhttp.Error(w, http.StatusInternalServerError, "archive notifications failed")
		return
	}
	if len(found) > 0 {
		if err := h.recordArchive(r, found); err != nil {
			jsonhttp.Error(w, http.StatusServiceUnavailable, "archive not recorded: "+err.Error())
			return
		}
	}
	jsonhttp.Write(w, http.StatusOK, map[string]string{"message": "ok", "details": fmt.Sprintf("archived %d notification(s)", len(found))})
}

func (h *Handler) recordArchive(r *http.Request, ids []string) error {
	list, _ := json.Marshal(ids) // ids are hex: nothing to escape
	e := event.NewSystem(TypeArchived, event.LevelInfo, fmt.Sprintf("%d notification(s) archived", len(ids)),
		(&event.Details{}).JSON("notification_ids", list).Int("count", int64(len(ids))).Object())
	if h.opts.Who != nil {
		e.Creds, e.Address = h.opts.Who(r)
	}
	return h.opts.Sink.EmitWritten(r.Context(), e)
}

// Purge answers DELETE /api/v3/notifications/purge: it deletes every
// notification event, as an audited events delete does (a
// system.events.deleted record says who and how many), and answers
// {"message":"ok","deleted":N}.
func (h *Handler) Purge(w http.ResponseWriter, r *http.Request) {
	if !h.opts.AllowDelete {
		jsonhttp.Error(w, http.StatusForbidden, "deleting events is not allowed (admin.allow_delete: false)")
		return
	}
	f := &event.Filter{Type: event.TypeNotification}
	if err := f.Compile(); err != nil {
		panic(err)
	}
	purge := func(recordID string) (store.Deletion, error) { return h.opts.Store.DeleteFor(r.Context(), f, recordID) }
	var n int
	var err error
	if h.opts.AuditedDelete != nil {
		n, err = h.opts.AuditedDelete(r, "type="+event.TypeNotification, purge)
	} else {
		var d store.Deletion
		d, err = purge("")
		n = d.Count
	}
	if err != nil {
		h.log.Error("purge notifications", "err", err)
		jsonhttp.Error(w, http.StatusInternalServerError, "purge notifications failed")
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{"message": "ok", "deleted": n})
}
