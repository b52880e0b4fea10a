// Package client is a Go client of trailcar's events API (docs/admin-api.md "Events API"), used
// by the CLI: list pages, get, delete, and the live stream.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
)

// Client talks to one sidecar's admin port.
type Client struct {
	// BaseURL is the admin port, e.g. http://127.0.0.1:9090.
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>" when set.
	Token string
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
	// Scope, when set, is sent as scope= (local: this pod only).
	Scope string
	// OnPartial, when set, hears of every answer some cluster peer did not
	// take part in, with the peers' states.
	OnPartial func(peers []PeerState)
}

// PeerState is how one cluster peer answered.
type PeerState struct {
	URL    string `json:"url"`
	Host   string `json:"host"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	TookMS int64  `json:"took_ms"`
}

// clusterPart is what a cluster answer adds.
type clusterPart struct {
	Partial bool        `json:"partial"`
	Peers   []PeerState `json:"peers"`
}

func (c *Client) partial(p clusterPart) {
	if p.Partial && c.OnPartial != nil {
		c.OnPartial(p.Peers)
	}
}

// APIError is an answer other than 2xx: its status and the server's
// {"error": …} message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
}

// ErrNotFound is matched (errors.Is) by a 404 APIError.
var ErrNotFound = errors.New("not found")

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Page is one page of the event list.
type Page struct {
	// Results are the events as the server sent them: JSON objects in
	// the stored field order.
	Results    []json.RawMessage `json:"results"`
	NextCursor *string           `json:"next_cursor"`
	ItemCount  int               `json:"item_count"`
	clusterPart
}

// List returns one page of events matching f, newest first; cursor is ""
// for the first page.
func (c *Client) List(ctx context.Context, f *event.Filter, limit int, cursor string) (*Page, error) {
	q := query(f)
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p Page
	if err := c.do(ctx, http.MethodGet, "/api/v3/events", q, &p); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	c.partial(p.clusterPart)
	return &p, nil
}

// Get returns one event as the server sent it.
func (c *Client) Get(ctx context.Context, id string) (json.RawMessage, error) {
	var e json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v3/events/"+url.PathEscape(id), nil, &e); err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return e, nil
}

// Delete deletes one event.
func (c *Client) Delete(ctx context.Context, id string) (int, error) {
	var d struct {
		Deleted int
		clusterPart
	}
	if err := c.do(ctx, http.MethodDelete, "/api/v3/events/"+url.PathEscape(id), nil, &d); err != nil {
		return 0, fmt.Errorf("delete event %s: %w", id, err)
	}
	c.partial(d.clusterPart)
	return d.Deleted, nil
}

// DeleteMatching deletes the events matching f; all must be set to
// delete everything with a zero filter.
func (c *Client) DeleteMatching(ctx context.Context, f *event.Filter, all bool) (int, error) {
	q := query(f)
	if all {
		q.Set("all", "true")
	}
	var d struct {
		Deleted int
		clusterPart
	}
	if err := c.do(ctx, http.MethodDelete, "/api/v3/events", q, &d); err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	c.partial(d.clusterPart)
	return d.Deleted, nil
}

// Stream calls fn with each event the server streams (one JSON object
// per call) until ctx ends (nil is returned), the server ends the stream,
// or fn fails. It does not reconnect: a Follower does.
func (c *Client) Stream(ctx context.Context, f *event.Filter, fn func(line []byte) error) error {
	err := c.stream(ctx, f, fn, nil)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("follow events: %w", err)
	}
	return nil
}

// stream is Stream, telling connected of the answer's head.
func (c *Client) stream(ctx context.Context, f *event.Filter, fn func(line []byte) error, connected func(*http.Response)) error {
	resp, err := c.send(ctx, http.MethodGet, "/api/v3/events/stream", query(f))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if connected != nil {
		connected(resp)
	}
	err = readSSE(resp.Body, fn, c.partial)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return err
	}
	if !f.Before.IsZero() && time.Now().After(f.Before) {
		return nil // the stream ended at before, as asked
	}
	return errStreamEnded
}

// query returns f's parameters; a nil f has none.
func query(f *event.Filter) url.Values {
	if f == nil {
		return url.Values{}
	}
	return f.Query()
}

// errServerSaid is the message of a stream's "error" event.
type errServerSaid string

func (e errServerSaid) Error() string { return string(e) }

// readSSE reads server-sent events: data lines go to fn, an "error"
// event becomes the error returned.
func readSSE(r io.Reader, fn func([]byte) error, peers func(clusterPart)) error {
	return ReadSSE(r, func(kind string, data []byte) error {
		switch kind {
		case "error":
			var e struct{ Error string }
			json.Unmarshal(data, &e)
			return errServerSaid(e.Error)
		case "peers": // a cluster stream's peers: warn of those down
			var p clusterPart
			if json.Unmarshal(data, &p.Peers) == nil {
				for _, s := range p.Peers {
					p.Partial = p.Partial || !s.OK
				}
				peers(p)
			}
			return nil
		case "":
			return fn(data)
		}
		return nil // another notice
	})
}

// ReadSSE calls fn with each data line of a text/event-stream and the
// name of its message ("" for an unnamed one); comments are skipped. It
// returns fn's error or the stream's.
func ReadSSE(r io.Reader, fn func(kind string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	kind := ""
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			kind = ""
		case bytes.HasPrefix(line, []byte("event: ")):
			kind = string(line[len("event: "):])
		case bytes.HasPrefix(line, []byte("data: ")):
			if err := fn(kind, line[len("data: "):]); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// do sends a request and decodes a 2xx JSON answer into into.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, into any) error {
	resp, err := c.send(ctx, method, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}

// send sends a request; an answer other than 2xx is an *APIError.
func (c *Client) send(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	if c.Scope != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("scope", c.Scope)
	}
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(body, &e) != nil {
		e.Error = strings.TrimSpace(string(body))
	}
	return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
}

// Integrity returns the sidecar's verdict on its trail's chain (GET
// /api/v3/integrity), on the files overlapping r (zero: all): one pod's
// report, or, from a pod with cluster peers unless scope is "local", every
// pod's (cluster is then set, rep nil).
func (c *Client) Integrity(ctx context.Context, r integrity.Range, scope string) (rep *integrity.Report, cluster *integrity.ClusterReport, err error) {
	q := url.Values{}
	if !r.Since.IsZero() {
		q.Set("since", r.Since.UTC().Format(time.RFC3339Nano))
	}
	if !r.Before.IsZero() {
		q.Set("before", r.Before.UTC().Format(time.RFC3339Nano))
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v3/integrity", q, &raw); err != nil {
		return nil, nil, err
	}
	var probe struct {
		Pods json.RawMessage `json:"pods"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, nil, err
	}
	if probe.Pods != nil {
		cluster = &integrity.ClusterReport{}
		return nil, cluster, json.Unmarshal(raw, cluster)
	}
	rep = &integrity.Report{}
	return rep, nil, json.Unmarshal(raw, rep)
}
