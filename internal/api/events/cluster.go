package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"
)

// Scopes (docs/cluster.md).
const (
	ScopeCluster = "cluster"
	ScopeLocal   = "local"
)

// scope is the request's scope: cluster when peers are configured and
// the request does not say local. ok is false after a 400.
func (h *Handler) scope(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch s := r.URL.Query().Get("scope"); s {
	case "":
		if h.Cluster != nil {
			return ScopeCluster, true
		}
		return ScopeLocal, true
	case ScopeLocal:
		return ScopeLocal, true
	case ScopeCluster:
		if h.Cluster == nil {
			return ScopeLocal, true // no peers: this pod is the cluster
		}
		return ScopeCluster, true
	default:
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("scope: %q: want cluster or local", s))
		return "", false
	}
}

// peerQuery is q as a peer is asked it: scope=local, and without the
// caller's scope.
func peerQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("scope", ScopeLocal)
	return out
}

// localPage is this pod's part of a cluster page: after its own entry of
// the cluster cursor c (nil: the first page), with the cursor after each
// event.
// maxBytes bounds its events (0: the store's page budget).
func (h *Handler) localPage(ctx context.Context, f event.Filter, limit, maxBytes int, c *cluster.Cursor) (cluster.Page, error) {
	p := cluster.Page{Host: h.Host}
	q := store.Query{Filter: &f, Limit: limit, MaxBytes: maxBytes, Cursors: true}
	if c != nil {
		switch own, ok := c.Pods[h.Host]; {
		case own == cluster.Done:
			return p, nil
		case ok:
			sc, err := store.ParseCursor(own)
			if err != nil {
				return p, err
			}
			q.After = &sc
		case c.Before != "":
			// Not in the walk so far: start below what was shown.
			t, err := time.Parse("2006-01-02T15:04:05.000000Z", c.Before)
			if err == nil && (f.Before.IsZero() || t.Before(f.Before)) {
				f.Before = t
				if err := f.Compile(); err != nil {
					return p, err
				}
			}
		}
	}
	page, err := h.Store.List(ctx, q)
	if err != nil {
		return p, err
	}
	p.Results = page.Lines
	buf := make([]byte, 0, len(page.Cursors)*96)
	for _, c := range page.Cursors {
		at := len(buf)
		buf = c.Append(buf)
		p.Cursors = append(p.Cursors, buf[at:len(buf):len(buf)])
	}
	p.More = page.Next != nil
	return p, nil
}

// parseClusterCursor reads a cluster cursor, checking every pod's entry.
func parseClusterCursor(v string) (cluster.Cursor, error) {
	c, err := cluster.ParseCursor(v)
	if err != nil {
		return c, err
	}
	for _, own := range c.Pods {
		if own == cluster.Done {
			continue
		}
		if _, err := store.ParseCursor(own); err != nil {
			return c, err
		}
	}
	return c, nil
}

// listLocalPart answers a peer's question (scope=local with a cluster
// cursor or cursors=each): this pod's page with a cursor per event, in
// cluster.PageType, its events within max_bytes (the asker's share of
// its budget) when given.
func (h *Handler) listLocalPart(w http.ResponseWriter, r *http.Request, f event.Filter, limit int) {
	maxBytes := 0
	if v := r.URL.Query().Get(paramMaxBytes); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("%s: %q: want a positive number of bytes", paramMaxBytes, v))
			return
		}
		maxBytes = min(n, store.PageBytes)
	}
	var c *cluster.Cursor
	if v := r.URL.Query().Get("cursor"); v != "" {
		cc, err := parseClusterCursor(v)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "cursor: "+err.Error())
			return
		}
		c = &cc
	}
	p, err := h.localPage(r.Context(), f, limit, maxBytes, c)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", cluster.PageType)
	w.Write(cluster.AppendPage(nil, p))
}

// chunk is how many events each pod is asked for first: its share of the
// page and an eighth more; a pod whose share runs out while the page
// needs more is asked again (cluster.Merge).
func chunk(limit, pods int) int {
	n := limit/pods + limit/pods/8 + 4
	return min(max(n, 1), limit)
}

// paramMaxBytes bounds the events of a pod's part of a cluster page.
const paramMaxBytes = "max_bytes"

// share is the bytes of events each of pods is asked for at a time: what
// the query's budget leaves beside the page itself and a margin (one
// event past a share, as a page always holds one), split evenly. Honest
// pods that keep to it never pass the budget (docs/cluster.md "Bounds").
func share(pods int) int {
	return max((cluster.QueryBytes-store.PageBytes-2<<20)/pods, 16<<10)
}

// listCluster answers for every pod: this one and the peers, merged,
// within one deadline and one byte budget (cluster.Query).
func (h *Handler) listCluster(w http.ResponseWriter, r *http.Request, f event.Filter, limit int) {
	q := r.URL.Query()
	var prev cluster.Cursor
	if v := q.Get("cursor"); v != "" {
		c, err := parseClusterCursor(v)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "cursor: "+err.Error()+" (a cluster page's next_cursor, or scope=local for one pod's)")
			return
		}
		prev = c
	}
	query := h.Cluster.Begin(r.Context())
	defer query.Close()
	peers, failed := query.Peers()
	n, bytesEach := chunk(limit, len(peers)+1), share(len(peers)+1)
	pq := peerQuery(q)
	pq.Set("cursors", "each")
	pq.Set(paramMaxBytes, strconv.Itoa(bytesEach))
	pq.Set("limit", strconv.Itoa(n))
	auth := cluster.Auth(r, "")
	// This pod's own pages are read with the caller's context: a read of
	// its files waits on no peer, and Merge asks for no more of anyone's
	// past the query's deadline.
	ctx := r.Context()
	localPage := func(n int, c *cluster.Cursor) (cluster.Page, error) {
		p, err := h.localPage(ctx, f, n, bytesEach, c)
		if err != nil {
			return p, err
		}
		size := 0
		for i, l := range p.Results {
			size += len(l) + len(p.Cursors[i])
		}
		// The store held it already: counted so that the peers' answers
		// fit beside it (when the budget cannot, the peers find it full).
		if query.Budget.Take(size) {
			p.Release = func() { query.Budget.Give(size) }
		}
		return p, nil
	}
	var local cluster.Page
	var localErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		local, localErr = localPage(n, &prev)
	}()
	states, answers := query.AskPeers(peers, http.MethodGet, "/api/v3/events", pq, auth)
	<-done
	if localErr != nil {
		for _, a := range answers {
			a.Release()
		}
		h.internalError(w, r, localErr)
		return
	}
	sources := []*cluster.Source{{Page: local, Fetch: func(after string, n int) (cluster.Page, error) {
		return localPage(min(n, limit), &cluster.Cursor{Pods: map[string]string{h.Host: after}})
	}}}
	for i, a := range answers {
		if a == nil {
			continue
		}
		p, err := cluster.ParsePage(a.Body)
		if err != nil {
			a.Release()
			states[i].OK, states[i].Error = false, err.Error()
			continue
		}
		p.Release = a.Release
		// Only the host is kept for the re-asks: p's lines point into a
		// body that Merge frees once they are merged.
		base, host, st := peers[i], p.Host, &states[i]
		sources = append(sources, &cluster.Source{Page: p, Fetch: func(after string, n int) (cluster.Page, error) {
			rq := peerQuery(q)
			rq.Set("cursors", "each")
			rq.Set(paramMaxBytes, strconv.Itoa(bytesEach))
			rq.Set("limit", strconv.Itoa(min(n, limit)))
			rq.Set("cursor", cluster.Cursor{Pods: map[string]string{host: after}}.String())
			s, a := query.AskOne(base, http.MethodGet, "/api/v3/events", rq, auth)
			st.TookMS += s.TookMS
			if a == nil {
				st.OK, st.Error = false, s.Error
				return cluster.Page{}, errors.New(s.Error)
			}
			next, err := cluster.ParsePage(a.Body)
			if err != nil {
				a.Release()
				st.OK, st.Error = false, err.Error()
				return next, err
			}
			next.Release = a.Release
			return next, nil
		}})
	}
	results, next := cluster.Merge(query.Context(), sources, limit, store.PageBytes, prev, query.Budget)
	states = append(states, failed...)
	h.Cluster.Report(states)
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"results":[`)
	for i, l := range results {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(l)
	}
	bw.WriteString(`],"next_cursor":`)
	if next == nil {
		bw.WriteString("null")
	} else {
		bw.WriteString(strconv.Quote(next.String()))
	}
	peersJSON, _ := json.Marshal(states)
	fmt.Fprintf(bw, `,"item_count":%d,"partial":%t,"peers":%s}`+"\n", len(results), cluster.Partial(states), peersJSON)
	bw.Flush()
}

// getCluster answers an event from whichever pod has it.
func (h *Handler) getCluster(w http.ResponseWriter, r *http.Request, id string) {
	states, answers := h.Cluster.Ask(r.Context(), http.MethodGet, "/api/v3/events/"+id, url.Values{"scope": {ScopeLocal}},
		cluster.Auth(r, ""), http.StatusNotFound)
	for _, a := range answers {
		if a != nil && a.Status == http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write(a.Body)
			return
		}
	}
	if cluster.Partial(states) {
		jsonhttp.Write(w, http.StatusServiceUnavailable, map[string]any{
			"error": "event " + id + " not found on the pods that answered", "partial": true, "peers": states})
		return
	}
	jsonhttp.Error(w, http.StatusNotFound, "event "+id+" not found")
}

// deleteCluster deletes on every peer (each audits its own delete) and
// answers the total with this pod's count n.
// id is the event's for a delete by id, "" for a delete by filter.
func (h *Handler) deleteCluster(w http.ResponseWriter, r *http.Request, id string, q url.Values, n int) {
	path := "/api/v3/events"
	if id != "" {
		path += "/" + id
	}
	states, answers := h.Cluster.Ask(r.Context(), http.MethodDelete, path, peerQuery(q), cluster.Auth(r, ""), http.StatusNotFound, http.StatusForbidden)
	type peerDeleted struct {
		cluster.PeerState
		Deleted int `json:"deleted"`
	}
	peers := make([]peerDeleted, len(states))
	total := n
	for i, s := range states {
		if a := answers[i]; a != nil && a.Status == http.StatusForbidden {
			// The id is a peer's delete record, checkpoint or reopen
			// record: refused there, so refused here. Any other 403
			// (admin.allow_delete: false there) is that peer's failure.
			var pa protectedAnswer
			if id != "" && json.Unmarshal(a.Body, &pa) == nil && pa.Protected != "" {
				jsonhttp.Write(w, http.StatusForbidden, pa)
				return
			}
			s.OK, s.Error = false, "answered 403: "+strings.TrimSpace(string(a.Body[:min(len(a.Body), 200)]))
			states[i] = s
		}
		peers[i].PeerState = s
		if a := answers[i]; a != nil && a.Status == http.StatusOK {
			var d struct{ Deleted int }
			if json.Unmarshal(a.Body, &d) == nil {
				peers[i].Deleted = d.Deleted
				total += d.Deleted
			}
		}
	}
	if id != "" && total == 0 && !cluster.Partial(states) {
		jsonhttp.Error(w, http.StatusNotFound, "event "+id+" not found on any pod")
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{"deleted": total, "local": n, "partial": cluster.Partial(states), "peers": peers})
}
