package events

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// List answers GET /api/v3/events:
// {"results":[…],"next_cursor":"…"|null,"item_count":N}, newest first.
func (h *Handler) List(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := event.ParseFilter(q)
	if err != nil {
		badParam(w, err)
		return
	}
	scope, ok := h.scope(w, r)
	if !ok {
		return
	}
	query := store.Query{Filter: &f, Limit: store.DefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxLimit {
			jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("limit: %q: want a number from 1 to %d", v, store.MaxLimit))
			return
		}
		query.Limit = n
	}
	switch {
	case scope == ScopeCluster:
		h.listCluster(w, r, f, query.Limit)
		return
	case q.Get("cursors") == "each" || cluster.IsCursor(q.Get("cursor")):
		h.listLocalPart(w, r, f, query.Limit) // a peer's part of a cluster page
		return
	}
	if v := q.Get("cursor"); v != "" {
		c, err := store.ParseCursor(v)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("cursor: %v", err))
			return
		}
		query.After = &c
	}
	page, err := h.Store.List(r.Context(), query)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if page.Stats.Invalid > 0 {
		h.logger().Warn("skipped audit lines that do not decode", "count", page.Stats.Invalid)
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	writePage(bw, page)
	bw.Flush()
}

// writePage writes the page with the stored lines as they are (they are
// already JSON objects), as it goes: the answer is never held whole.
func writePage(b *bufio.Writer, p store.Page) {
	b.WriteString(`{"results":[`)
	for i, l := range p.Lines {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(l)
	}
	b.WriteString(`],"next_cursor":`)
	if p.Next == nil {
		b.WriteString("null")
	} else {
		b.WriteString(strconv.Quote(p.Next.String())) // URL-safe base64: no escapes
	}
	fmt.Fprintf(b, `,"item_count":%d}`+"\n", len(p.Lines))
}

// badParam answers 400 for a filter parameter; the message starts with
// the parameter's name.
func badParam(w http.ResponseWriter, err error) {
	var pe *event.ParamError
	if errors.As(err, &pe) {
		jsonhttp.Error(w, http.StatusBadRequest, pe.Error())
		return
	}
	jsonhttp.Error(w, http.StatusBadRequest, err.Error())
}

// parseAll reads the all parameter of DELETE /api/v3/events.
func parseAll(q url.Values) (bool, error) {
	switch v := q.Get("all"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("all: %q: want true or false", v)
	}
}
