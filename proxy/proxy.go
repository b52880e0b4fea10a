// Package proxy is the proxy port: an httputil.ReverseProxy to the upstream
// that turns each tracked request into one audit event when its response
// is done (docs/events.md "Which requests become events").
//
// It is a room of trailcar, not a library: its exported API names types
// from trailcar's internal packages, for sidecar only.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/capture"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rules"
)

// Sink takes finished events. Emit must not keep e after it returns.
type Sink interface {
	Emit(e *event.Event) error
}

// Options configure a Proxy. Required: Upstream, Rules, Sink, Metrics.
type Options struct {
	Upstream *url.URL
	// Transport reaches the upstream. If nil, the proxy's own: requests
	// without a body (GET, HEAD, OPTIONS) to an http:// upstream are
	// written and answered on the forwarding goroutine over up to 256
	// kept-alive connections, everything else goes through
	// DefaultTransport (see transport.go).
	Transport http.RoundTripper
	// UpstreamTimeout bounds the wait for the app's answer head (not its
	// body) on every path of the proxy's own transport (upstream_timeout):
	// past it the answer is 504 and the event says upstream_error
	// "timeout". 0 means no bound. Unused when Transport is set.
	UpstreamTimeout time.Duration
	Rules           *rules.Rules
	Sink            Sink
	Metrics         *metrics.Metrics
	// IDs makes event ids; nil means a new event.IDs.
	IDs *event.IDs
	// Trusted are the proxies whose X-Forwarded-For is believed.
	Trusted identity.Trusted
	// Identity makes the creds.uuid of opaque tokens and API keys
	// (identity.hmac_key_file); nil means the bare SHA-256 prefix.
	Identity *identity.Hasher
	// RequestIDHeader carries the event id to the upstream and back to
	// the client; "" means X-Request-Id. Whatever the client sent in it
	// is replaced, so the id in the log is always one trailcar made.
	RequestIDHeader string
	// LogQuery logs the query string, with the values of RedactQuery
	// keys replaced by REDACTED.
	LogQuery    bool
	RedactQuery []string
	// RedactFields are the JSON keys (any depth, any case) whose values
	// are REDACTED in captured bodies and client_details (redact_fields);
	// nil redacts none.
	RedactFields []string
	// FailClosed, if set and returning true, makes tracked requests
	// answer 503 instead of going unaudited (on_write_error: fail_closed
	// while the audit log cannot be written).
	FailClosed func() bool
	// UpstreamFailed, if set, is called after a request failed to reach
	// the upstream (e.g. to probe it at once).
	UpstreamFailed func(err error)
	// Intercept, if set, may answer a request locally instead of
	// forwarding it (client events): it returns the handler to use, or
	// nil to forward. A local handler that recorded its own event sets
	// the response header X-Audit-Track: false.
	Intercept func(r *http.Request) http.Handler
	// Streams, if set, tracks long-lived responses so shutdown can end
	// them; its ConnContext must then be the server's ConnContext.
	Streams *Streams
	// BodyGrace and BodyMinRate bound how slowly a client may send a
	// request body: at BodyMinRate bytes a second on average after
	// BodyGrace, else 408. 0 means the defaults (10s, 1 KiB/s).
	BodyGrace   time.Duration
	BodyMinRate int
	// LongAnswer is how long an answer's body may run before it gets its
	// started event; 0 means the default (LongAnswer, 10 s).
	LongAnswer time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Proxy is the proxy port's handler.
type Proxy struct {
	opts            Options
	rp              *httputil.ReverseProxy
	ids             *event.IDs
	requestIDHeader string
	now             func() time.Time
	log             *slog.Logger
	redact          *identity.Redactor
	fields          *capture.Fields                                            // nil when redact_fields is empty
	counters        sync.Map                                                   // requestKey -> prometheus.Counter
	durations       [len(knownMethods) + 1]atomic.Pointer[prometheus.Observer] // made on first use: no empty buckets
	events          sync.Pool                                                  // *event.Event
}

// New builds a Proxy.
func New(opts Options) (*Proxy, error) {
	if opts.Upstream == nil || opts.Rules == nil || opts.Sink == nil || opts.Metrics == nil {
		return nil, errors.New("proxy: Upstream, Rules, Sink and Metrics are required")
	}
	if opts.IDs == nil {
		opts.IDs = &event.IDs{}
	}
	if opts.RequestIDHeader == "" {
		opts.RequestIDHeader = "X-Request-Id"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Transport == nil {
		opts.Transport = newTransport(opts.UpstreamTimeout)
	}
	p := &Proxy{
		opts: opts, ids: opts.IDs, now: opts.Now, log: opts.Logger,
		requestIDHeader: http.CanonicalHeaderKey(opts.RequestIDHeader),
		redact:          identity.NewRedactor(opts.RedactQuery),
	}
	if len(opts.RedactFields) > 0 {
		p.fields = capture.NewFields(opts.RedactFields)
	}
	for _, reason := range upstreamReasons {
		opts.Metrics.UpstreamErrors.WithLabelValues(reason) // exported at 0: increase() sees the first burst
	}
	p.events.New = func() any { return new(event.Event) }
	target := opts.Upstream
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the app sees the host the client asked for, as behind any sidecar
			x := exchangeOf(pr.In.Context())
			p.setXForwarded(pr, x)
			// After ReverseProxy dropped the hop-by-hop headers: a client's
			// "Connection: X-Request-Id" must not take the id away.
			if x != nil {
				pr.Out.Header[p.requestIDHeader] = x.idValue()
			}
			onlyWebsocketUpgrade(pr.Out.Header)
		},
		Transport:  opts.Transport,
		BufferPool: copyBuffers,
		// FlushInterval stays 0: ReverseProxy already flushes every write of a
		// streaming response (event-stream, or no Content-Length: chunked),
		// and flushing every write of every response costs a syscall each.
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// copyBuffers are ReverseProxy's 32 KiB body copy buffers, reused: without
// a pool every proxied response allocates one, and collecting them was the
// largest cost trailcar added to a bare proxy.
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return buf[:]
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if len(buf) == copyBufferSize {
		b.p.Put((*[copyBufferSize]byte)(buf)) // a pointer to the array: no allocation
	}
}

// onlyWebsocketUpgrade removes any Upgrade but websocket (and h2c's
// HTTP2-Settings): the request then goes to the app as plain HTTP/1.1.
// Another protocol would open a tunnel whose requests the proxy never
// sees, and so never audits; websocket is one stream of messages, and
// audited as one request.
func onlyWebsocketUpgrade(h http.Header) {
	delete(h, "Http2-Settings")
	if up, ok := h["Upgrade"]; ok && (len(up) != 1 || !strings.EqualFold(strings.TrimSpace(up[0]), "websocket")) {
		delete(h, "Upgrade")
		delete(h, "Connection")
	}
}

// DefaultTransport is http.DefaultTransport cloned with a pool of idle
// connections sized for proxying (the default keeps 2 per host, which under
// load means dialing for most requests), no proxy from the environment, and
// no compression of its own: the app is asked for exactly the encodings the
// client accepts. (With it on, a client that sent no Accept-Encoding made
// the transport ask for gzip and unpack the answer, and the client got it
// chunked, without the app's Content-Length.)
func DefaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DisableCompression = true
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// setXForwarded is ProxyRequest.SetXForwarded, keeping a trusted
// peer's X-Forwarded-For chain, with the values in the exchange: X-Forwarded-For
// (the chain, then the client's address), -Host (the host asked for) and
// -Proto (http or https).
func (p *Proxy) setXForwarded(pr *httputil.ProxyRequest, x *exchange) {
	if x == nil {
		x = new(exchange) // not a request ServeHTTP took: values of its own
	}
	h := pr.Out.Header
	client, _, err := net.SplitHostPort(pr.In.RemoteAddr)
	switch chain, ok := pr.In.Header["X-Forwarded-For"]; {
	case err != nil:
		delete(h, "X-Forwarded-For")
	case ok && p.trustedPeer(pr.In.RemoteAddr):
		h["X-Forwarded-For"] = []string{strings.Join(chain, ", ") + ", " + client}
	default:
		x.xff[0] = client
		h["X-Forwarded-For"] = x.xff[:1:1]
	}
	x.xfh[0] = pr.In.Host
	h["X-Forwarded-Host"] = x.xfh[:1:1]
	if pr.In.TLS == nil {
		h["X-Forwarded-Proto"] = protoHTTP[:1:1]
	} else {
		h["X-Forwarded-Proto"] = protoHTTPS[:1:1]
	}
}

// The X-Forwarded-Proto values, shared (read only; cap 1: an append copies).
var protoHTTP, protoHTTPS = []string{"http"}, []string{"https"}

func (p *Proxy) trustedPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	a, err := netipParse(host)
	return err == nil && p.opts.Trusted.Contains(a)
}

// ServeHTTP forwards r and records its event.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	x.rw, x.p, x.start = w, p, p.now()
	x.id = p.ids.New()
	x.route = p.opts.Rules.Route(r.Method, r.URL.Path, r.URL.EscapedPath()) // the globs, once per request

	if cs, ok := r.Context().Value(connKey{}).(*connState); ok && http1(r) {
		markHandled(cs.conn)
		cs.cur = x
		defer func() { cs.cur = nil }()
	} else {
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
	}
	x.r = r
	defer p.finish(x, r)
	x.boundBody(r)
	if err := x.prefetch(r); err != nil {
		p.refuseBody(x, err)
		return
	}
	if c := x.route.Capture(); c.Request || c.Response {
		x.startCapture(r, c)
	}
	if r.Body != nil && r.Body != http.NoBody {
		x.sent = &sentBody{src: r.Body, x: x}
		r.Body = x.sent
	}

	if h := p.intercept(r); h != nil {
		r.Header[p.requestIDHeader] = []string{x.id} // a local handler may record it
		h.ServeHTTP(x, r)
		return
	}
	if p.opts.FailClosed != nil && x.route.TrackedWhatever() && p.opts.FailClosed() {
		x.refused = true
		jsonhttp.Error(x, http.StatusServiceUnavailable, "audit log unavailable: request refused (on_write_error: fail_closed)")
		return
	}
	p.rp.ServeHTTP(x, r)
}

// http1 reports whether r came over an HTTP/1 connection, where requests
// follow one another: "PRI * HTTP/2.0" (an HTTP/2 preface sent to the
// HTTP/1 port, which net/http hands to handlers) is one too. Without it,
// the listener took the handler's answer to that request for net/http
// refusing it, and the request made two events.
func http1(r *http.Request) bool {
	return r.ProtoMajor == 1 || r.TLS == nil && r.Method == "PRI" && r.RequestURI == "*"
}

func (p *Proxy) intercept(r *http.Request) http.Handler {
	if p.opts.Intercept == nil {
		return nil
	}
	return p.opts.Intercept(r)
}

// finish records the metrics and the event of a request, also when the
// handler panicked (http.ErrAbortHandler when the client went away
// mid-body): the response was partly sent, so it is audited, and the panic
// goes on to net/http, which expects it.
func (p *Proxy) finish(x *exchange, r *http.Request) {
	rec := recover()
	reusable := x.endLong() // no started event after this one
	status := x.status
	switch {
	case x.hijacked && !x.wroteHeader:
		// Switched protocols. (An upgrade ReverseProxy refused, e.g. to
		// another protocol than asked for, was answered with an error
		// status through WriteHeader instead.)
		status = http.StatusSwitchingProtocols
	case status == 0 && x.clientGone:
		status = 499 // nginx's "client closed request": nothing was answered
	case status == 0 && rec == nil:
		status = http.StatusOK // nothing written: net/http sends 200
	}
	if x.wroteHeader && !x.hijacked {
		x.audit.takeTrailers(x.rw.Header()) // net/http sends trailers after this returns
	}
	elapsed := p.now().Sub(x.start)
	mi := methodIndex(r.Method)
	p.requestCounter(mi, status).Inc()
	p.duration(mi).Observe(elapsed.Seconds())
	p.record(x, r, status, elapsed, rec)
	if x.stream && p.opts.Streams != nil {
		p.opts.Streams.unmarkStream(r.Context()) // after record: Streams.Wait covers the event
	}
	// The transport may still be reading the body (the app answered first);
	// ReverseProxy's own Close of it only sets a flag that a read in flight
	// has passed. After release no read starts, and an exchange that one
	// is still in is not reused.
	if (x.sent == nil || x.sent.release()) && reusable {
		x.reset()
		exchanges.Put(x)
	}
	if rec != nil {
		panic(rec)
	}
}

// requestKey identifies an http_requests_total child.
type requestKey struct {
	method int
	status int
}

func (p *Proxy) requestCounter(mi, status int) prometheus.Counter {
	k := requestKey{mi, status}
	if c, ok := p.counters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	code := strconv.Itoa(status)
	if status == 0 {
		code = "aborted"
	}
	c := p.opts.Metrics.HTTPRequests.WithLabelValues(methodLabel(mi), code)
	p.counters.Store(k, c)
	return c
}

// duration is the histogram child of a method index, made on its first
// observation: a method never seen costs no series.
func (p *Proxy) duration(mi int) prometheus.Observer {
	if o := p.durations[mi].Load(); o != nil {
		return *o
	}
	o := p.opts.Metrics.HTTPRequestDuration.WithLabelValues(methodLabel(mi))
	p.durations[mi].Store(&o)
	return o
}

// knownMethods label http metrics; anything else (CONNECT, TRACE, any
// token a client makes up) is "other", so a client cannot grow the label
// set.
var knownMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func methodIndex(m string) int {
	for i, k := range knownMethods {
		if m == k {
			return i
		}
	}
	return len(knownMethods)
}

func methodLabel(i int) string {
	if i < len(knownMethods) {
		return knownMethods[i]
	}
	return "other"
}
