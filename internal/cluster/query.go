package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds of one cluster answer (docs/cluster.md "Bounds").
const (
	// maxAnswer bounds what is read of one peer's answer: an honest page
	// is at most 8 MiB of events (the store's page budget) and its
	// cursors.
	maxAnswer = 10 << 20
	// QueryBytes bounds what one cluster answer holds at once: the peers'
	// answers being read or merged, and the lines kept for the page.
	QueryBytes = 16 << 20
	// AllQueriesBytes bounds what the cluster answers being built at once
	// hold together: admin.max_queries (8) answers of 16 MiB would pass
	// the 128 MiB a pod's trailcar is given (docs/cluster.md "Bounds").
	AllQueriesBytes = 64 << 20
)

// Busy is the error of a peer that answered 429: it is building as many
// answers as its admin.max_queries allows.
const Busy = "busy"

// ErrBudget is an answer that would pass a byte budget.
var ErrBudget = fmt.Errorf("over the byte budget of cluster answers (%d MiB each, %d MiB for all at once): cut off",
	QueryBytes>>20, AllQueriesBytes>>20)

// Budget counts the bytes one cluster answer holds, within the budget of
// all of them (its parent). It is safe for concurrent use: the peers'
// answers are read in parallel.
type Budget struct {
	mu     sync.Mutex
	left   int
	parent *Budget
	closed bool // its query ended: all was given back at once
}

// NewBudget is a budget of n bytes.
func NewBudget(n int) *Budget { return &Budget{left: n} }

// Take reserves n bytes, or reports false (and reserves nothing) when
// fewer are left, here or in the parent.
func (b *Budget) Take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || n > b.left || b.parent != nil && !b.parent.Take(n) {
		return false
	}
	b.left -= n
	return true
}

// Force takes n bytes even past the budget (one line a page must show):
// what follows finds the budget spent.
func (b *Budget) Force(n int) {
	b.mu.Lock()
	b.left -= n
	b.mu.Unlock()
	if b.parent != nil {
		b.parent.Force(n)
	}
}

// Give returns n bytes taken before.
func (b *Budget) Give(n int) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.left += n
	b.mu.Unlock()
	if b.parent != nil {
		b.parent.Give(n)
	}
}

// Left is what can still be taken here (the parent may have less).
func (b *Budget) Left() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// Query is one cluster answer: one deadline (the cluster's timeout) over
// every lookup, ask and re-ask of every peer, and one byte budget
// (QueryBytes) over every answer read and every line kept. A peer still
// owing its answer at the deadline, or whose answer would pass the
// budget, is cut off: the answer is partial, naming it.
type Query struct {
	c      *Cluster
	ctx    context.Context
	cancel context.CancelFunc
	Budget *Budget
}

// Begin starts a query; Close ends it.
func (c *Cluster) Begin(ctx context.Context) *Query {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	return &Query{c: c, ctx: ctx, cancel: cancel, Budget: &Budget{left: QueryBytes, parent: c.all}}
}

// Close releases the query's deadline, and gives what it still holds
// back to the budget of all queries: the answer has been written, or the
// few answers Ask returns are the caller's to use briefly.
func (q *Query) Close() {
	q.cancel()
	q.Budget.mu.Lock()
	held := QueryBytes - q.Budget.left
	q.Budget.left, q.Budget.closed = QueryBytes, true
	q.Budget.mu.Unlock()
	q.c.all.Give(held)
}

// Context is done at the query's deadline.
func (q *Query) Context() context.Context { return q.ctx }

// Peers is Cluster.Peers within the query's deadline.
func (q *Query) Peers() ([]string, []PeerState) { return q.c.Peers(q.ctx) }

// Answer is one peer's answer, read whole. Its Body holds its bytes of
// the query's budget until Release (or the query's end).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	size   int
	budget *Budget
}

// Release gives the answer's bytes back to the query's budget; the Body
// (and anything pointing into it) must no longer be used.
func (a *Answer) Release() {
	if a != nil && a.budget != nil {
		a.budget.Give(a.size)
		a.budget, a.Body = nil, nil
	}
}

// Ask sends method path?query to every peer in parallel, with header (the
// caller's Authorization, an Accept), as one query of its own, and
// returns the states and the answers (nil where a peer failed) of every
// peer asked, in the order of Peers. A peer answering other than 2xx is a
// failure, except the statuses listed in accept. The answers stay
// readable after the query: their bytes were counted while they were
// read.
func (c *Cluster) Ask(ctx context.Context, method, path string, query url.Values, header http.Header, accept ...int) ([]PeerState, []*Answer) {
	q := c.Begin(ctx)
	defer q.Close()
	urls, failed := q.Peers()
	states, answers := q.AskPeers(urls, method, path, query, header, accept...)
	states = append(states, failed...)
	answers = append(answers, make([]*Answer, len(failed))...)
	c.Report(states)
	return states, answers
}

// AskPeers is Ask of peers already found (Peers), within the query: it
// counts the requests but leaves Report to the caller.
func (q *Query) AskPeers(urls []string, method, path string, query url.Values, header http.Header, accept ...int) ([]PeerState, []*Answer) {
	states := make([]PeerState, len(urls))
	answers := make([]*Answer, len(urls))
	var wg sync.WaitGroup
	for i, base := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], answers[i] = q.ask(base, method, path, query, header, accept)
		}()
	}
	wg.Wait()
	q.c.countRequests(states)
	return states, answers
}

// AskOne asks one peer, as AskPeers does, and counts the answer.
func (q *Query) AskOne(base, method, path string, query url.Values, header http.Header) (PeerState, *Answer) {
	st, a := q.ask(base, method, path, query, header, nil)
	q.c.countRequests([]PeerState{st})
	return st, a
}

func (q *Query) ask(base, method, path string, query url.Values, header http.Header, accept []int) (st PeerState, a *Answer) {
	st.URL = base
	start := time.Now()
	defer func() { st.TookMS = time.Since(start).Milliseconds() }() // every way out, failures too
	ctx := q.ctx
	if err := ctx.Err(); err != nil {
		st.Error = describe(ctx, err) // the deadline passed before this ask
		return st, nil
	}
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		st.Error = err.Error()
		return st, nil
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := q.c.opts.Client.Do(req)
	if err != nil {
		st.Error = describe(ctx, err)
		return st, nil
	}
	defer resp.Body.Close()
	st.Host = resp.Header.Get("X-Trailcar-Host")
	if resp.StatusCode == http.StatusTooManyRequests {
		st.Error = Busy // its admin.max_queries are taken: not read further
		return st, nil
	}
	body, size, err := readAnswer(resp, q.Budget)
	if err != nil {
		if !errors.Is(err, ErrBudget) && !errors.Is(err, errTooBig) {
			err = errors.New(describe(ctx, err))
		}
		st.Error = err.Error()
		return st, nil
	}
	if resp.StatusCode/100 != 2 && !slices.Contains(accept, resp.StatusCode) {
		q.Budget.Give(size)
		st.Error = fmt.Sprintf("answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
		return st, nil
	}
	st.OK = true
	return st, &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body, size: size, budget: q.Budget}
}

var errTooBig = fmt.Errorf("answer over %d MiB: not read", maxAnswer>>20)

// readAnswer reads a body whole, at most maxAnswer bytes, taking what it
// holds from the budget as it grows: a peer that sends more than the
// query can hold is cut off as it passes, not after. It returns the
// body and the bytes taken (its capacity).
func readAnswer(resp *http.Response, b *Budget) ([]byte, int, error) {
	if n := resp.ContentLength; n > maxAnswer {
		return nil, 0, errTooBig
	} else if n >= 0 {
		size := int(n)
		if !b.Take(size) {
			return nil, 0, ErrBudget
		}
		body := make([]byte, size) // read whole, without growing
		if _, err := io.ReadFull(resp.Body, body); err != nil {
			b.Give(size)
			return nil, 0, err
		}
		return body, size, nil
	}
	var body []byte
	for {
		if len(body) == cap(body) {
			grow := min(max(cap(body), 64<<10), maxAnswer+1-cap(body))
			if grow == 0 {
				b.Give(cap(body))
				return nil, 0, errTooBig
			}
			if !b.Take(grow) {
				b.Give(cap(body))
				return nil, 0, ErrBudget
			}
			body = slices.Grow(body, grow)[:len(body)]
			body = body[: len(body) : len(body)+grow] // the capacity taken, not what append rounded up to
		}
		n, err := resp.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if errors.Is(err, io.EOF) {
			return body, cap(body), nil
		}
		if err != nil {
			b.Give(cap(body))
			return nil, 0, err
		}
	}
}
