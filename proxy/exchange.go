package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/trailcar/trailcar/rules"
)

// auditHeaders are what the upstream says about the event (docs/events.md "What the app can add"),
// taken off its response before the client sees it.
type auditHeaders struct {
	track, action, level, message, resource, details string
	userID, userName, authType                       string
}

// auditHeaderNames in canonical form, with where each value goes.
var auditHeaderNames = [...]struct {
	name string
	dst  func(*auditHeaders) *string
}{
	{"X-Audit-Track", func(a *auditHeaders) *string { return &a.track }},
	{"X-Audit-Action", func(a *auditHeaders) *string { return &a.action }},
	{"X-Audit-Level", func(a *auditHeaders) *string { return &a.level }},
	{"X-Audit-Message", func(a *auditHeaders) *string { return &a.message }},
	{"X-Audit-Resource", func(a *auditHeaders) *string { return &a.resource }},
	{"X-Audit-Details", func(a *auditHeaders) *string { return &a.details }},
	{"X-Audit-User-Id", func(a *auditHeaders) *string { return &a.userID }},
	{"X-Audit-User-Name", func(a *auditHeaders) *string { return &a.userName }},
	{"X-Audit-Auth-Type", func(a *auditHeaders) *string { return &a.authType }},
}

// take moves every X-Audit-* header out of h into a. Headers are
// canonical here (net/http canonicalises what it parses), but a handler may
// have set a non-canonical key, so any key with the prefix is removed.
func (a *auditHeaders) take(h http.Header) {
	found := false
	for k := range h {
		if len(k) > 8 && strings.EqualFold(k[:8], "X-Audit-") {
			found = true
			break
		}
	}
	if !found {
		return // the common case: nothing to do, nothing allocated
	}
	for _, n := range auditHeaderNames {
		if v, ok := h[n.name]; ok {
			if len(v) > 0 {
				*n.dst(a) = v[0]
			}
			delete(h, n.name)
		}
	}
	for k, v := range h {
		if len(k) > 8 && strings.EqualFold(k[:8], "X-Audit-") {
			a.takeOdd(k, v)
			delete(h, k)
		}
	}
}

// takeTrailers takes X-Audit-* trailers, which the app may send after the
// body (so they win over its headers), and which would otherwise reach the
// client: ReverseProxy copies trailers into the header map, under their
// name when announced, else under http.TrailerPrefix + name.
func (a *auditHeaders) takeTrailers(h http.Header) {
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && len(name) > 8 && strings.EqualFold(name[:8], "X-Audit-") {
			delete(h, k)
			h[http.CanonicalHeaderKey(name)] = v
		}
	}
	a.take(h)
}

// takeOdd keeps the value of a known header set under a non-canonical key
// (a local handler writing the map directly), unless the canonical key
// already gave one.
func (a *auditHeaders) takeOdd(key string, v []string) {
	for _, n := range auditHeaderNames {
		if strings.EqualFold(key, n.name) {
			if dst := n.dst(a); *dst == "" && len(v) > 0 {
				*dst = v[0]
			}
			return
		}
	}
}

// exchange is one request on the proxy port: it wraps the ResponseWriter to
// see the status and count the body bytes, and carries what the event needs.
// Exchanges are pooled.
type exchange struct {
	rw http.ResponseWriter
	p  *Proxy
	id string
	// idv, xff and xfh are header values in the exchange (pooled), so
	// setting them costs no allocation: the id, X-Forwarded-For and
	// X-Forwarded-Host. Only headers read while the request is served may use them:
	// net/http copies the response header at WriteHeader, the transport
	// writes the upstream request's before the response comes.
	idv         [1]string
	xff, xfh    [1]string
	start       time.Time
	status      int
	bytes       int64
	wroteHeader bool
	hijacked    bool
	stream      bool
	audit       auditHeaders
	upstreamErr error
	// upstreamTimeout: the app did not answer in time (dial or head)
	upstreamTimeout bool
	refused         bool // answered 503 because the audit log cannot be written (fail_closed)
	route           rules.Route
	body            upstreamBody  // the upstream's response body, watched for a cut
	reqBody         slowBody      // the client's request body, bounded in time
	pre             prefetched    // the request body's head, read before the app is called
	infos           int           // informational answers passed on
	location        string        // a 201's Location
	r               *http.Request // the inbound request, for a started event
	long            longRun       // a long-running answer\'s state
	sent            *sentBody     // the body as the transport reads it; closed before the exchange is reused
	clientGone      bool          // the client left while sending its body
	capture         rules.Capture // what a capture rule asks of the request
	reqCopy         bodyCopy      // the request body's head, when captured
	resCopy         bodyCopy      // the response body's head, when captured
}

// upstreamBody is the upstream's response body as ReverseProxy copies it:
// a read error other than EOF means the upstream cut the body short, which
// the event must not blame on the client. It lives in the exchange, so
// watching costs no allocation.
type upstreamBody struct {
	rc  io.ReadCloser
	err error
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *upstreamBody) Close() error { return b.rc.Close() }

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// idValue is the request id as a header value, without allocating (cap 1:
// an append makes a copy).
func (x *exchange) idValue() []string {
	x.idv[0] = x.id
	return x.idv[:1:1]
}

// clientLeft ends a request whose client went away before its answer's
// head was sent: the event says 499, and the connection is dropped without
// an answer (net/http would otherwise send a 200 for a handler that wrote
// nothing, which a half-closed client could still read). The panic is
// net/http's own way to abort a handler; finish records the event first.
func (x *exchange) clientLeft() {
	x.clientGone = true
	panic(http.ErrAbortHandler)
}

func (x *exchange) reset() {
	*x = exchange{}
}

func (x *exchange) Header() http.Header { return x.rw.Header() }

func (x *exchange) WriteHeader(code int) {
	if x.wroteHeader {
		return
	}
	h := x.rw.Header()
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational (103 Early Hints): the final status is still to
		// come. Its headers are sent as they are, so audit headers are
		// taken off here too; what they said is not kept (the final
		// answer speaks for the request).
		var discard auditHeaders
		discard.take(h)
		if x.infos == Max1xx {
			// On http.Transport's path the bound cancels the request, but
			// its reader may pass on what it had already read meanwhile.
			return
		}
		x.infos++
		x.rw.WriteHeader(code)
		return
	}
	x.audit.take(h) // local handlers' headers; proxied ones were taken in ModifyResponse
	h[x.p.requestIDHeader] = x.idValue()
	x.status = code
	x.wroteHeader = true
	x.rw.WriteHeader(code)
	x.headSent(h)
}

func (x *exchange) Write(b []byte) (int, error) {
	if !x.wroteHeader {
		x.WriteHeader(http.StatusOK)
	}
	n, err := x.rw.Write(b)
	x.bytes += int64(n)
	if x.resCopy.on {
		x.resCopy.write(b[:n], false)
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (SSE, chunked
// streaming and websocket upgrades go through it).
func (x *exchange) Unwrap() http.ResponseWriter { return x.rw }
