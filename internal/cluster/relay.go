package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ErrTimeout is a peer that did not send its answer's head within the
// timeout.
var ErrTimeout = errors.New("timeout")

// Open sends method path?q to one peer (a base URL of Peers) with header
// and returns its answer unread, for a caller that relays it as it comes:
// a log file, a follow stream. It goes through the cluster's client, as
// Ask does (its dialer, no proxy from the environment, no redirect
// followed), but the timeout bounds only the wait for the answer's head:
// the body then lasts as long as ctx, and the caller closes it.
//
// Any status is returned as the peer gave it (a relay passes on 206, 304
// or 404), except a redirect, which is an error: a peer answers for
// itself, and trailcar sends the caller's token to no other address.
// Every request is counted, a 4xx or 5xx as an error.
func (c *Cluster) Open(ctx context.Context, base, method, path string, q url.Values, header http.Header) (*http.Response, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	return c.open(req)
}

// Transport is Open as an http.RoundTripper, for an httputil.ReverseProxy
// that relays a peer's answer: the same client, bounds and refusal of
// redirects, whatever the request.
func (c *Cluster) Transport() http.RoundTripper { return transport{c} }

type transport struct{ c *Cluster }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) { return t.c.open(req) }

func (c *Cluster) open(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	// Only the head is bounded: a follow stream lasts as long as its
	// caller, so the timer cancels the request only until it stops.
	head := time.AfterFunc(c.opts.Timeout, cancel)
	out := req.WithContext(ctx)
	out.RequestURI = "" // a ReverseProxy's request is a copy of the one it received
	resp, err := c.opts.Client.Do(out)
	st := PeerState{URL: req.URL.Scheme + "://" + req.URL.Host}
	switch {
	case !head.Stop():
		if err == nil {
			resp.Body.Close()
		}
		st.Error, err = ErrTimeout.Error(), ErrTimeout
	case err != nil:
		st.Error = err.Error()
	case isRedirect(resp.StatusCode):
		resp.Body.Close()
		err = fmt.Errorf("%s answered %s: a redirect is not followed", st.URL, resp.Status)
		st.Error = err.Error()
	default:
		st.OK = resp.StatusCode < 400
	}
	c.countRequests([]PeerState{st})
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// isRedirect reports whether the client would have followed status (a 304
// answers a conditional request; it is not a redirect).
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// cancelOnClose releases the request's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
