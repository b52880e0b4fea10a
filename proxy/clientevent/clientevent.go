// Package clientevent records browser-side operations sent to the proxy
// port (docs/client-events.md): a POST to the client events path becomes
// one audit event of type client and is answered by trailcar itself, never
// forwarded. It is a room of trailcar, not a library: its exported API
// names types from trailcar's internal packages, for sidecar only.
//
//	POST /api/v3/events/channels/MyChannel
//	{"action_verb":"create","http_code":200,"client_details":{"name":"MyChannel"}}
//
// becomes an event with action "console.channels.create", resource
// {"type":"channels","id":"MyChannel"}, res.statusCode 200, outcome success
// and client_details in res.client_details; the answer is
// 202 {"message":"ok"}. Each client address has its own rate limit.
package clientevent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/rules"

	"github.com/trailcar/trailcar/internal/capture"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 64 << 10

// Message is the message of every client event.
const Message = "client side event"

// Sink takes finished events. Emit must not keep e after it returns.
type Sink interface {
	Emit(e *event.Event) error
}

// Options configure a Handler. Path, Service, Rate, Burst and Sink are
// required.
type Options struct {
	// Path is the glob of the client events route (gobwas/glob with '/'
	// as the separator, as every path glob of the configuration). The
	// last two segments of a matching path are the resource type and id.
	Path string
	// Service starts every action: {service}.{resource type}.{action_verb}.
	Service string
	// Rate is the events per second allowed per client address on
	// average, Burst how many at once.
	Rate  float64
	Burst int
	// MaxClients bounds the addresses the rate limiter remembers; 0 means
	// DefaultMaxClients.
	MaxClients int
	Sink       Sink
	// Trusted are the proxies whose X-Forwarded-For is believed: the
	// client address of the event and of the rate limit.
	Trusted identity.Trusted
	// Identity makes the creds.uuid of opaque tokens and API keys
	// (identity.hmac_key_file); nil means the bare SHA-256 prefix.
	Identity *identity.Hasher
	// RequestIDHeader, if set, names the request header that carries the
	// id the proxy made for this request; when it holds a valid id, the
	// event gets it, so the id the client got back names its event.
	RequestIDHeader string
	// RedactFields are the keys (any depth, any case) whose values are
	// REDACTED in client_details (redact_fields); nil redacts none.
	RedactFields []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Handler answers client events. Its methods are safe for concurrent use.
type Handler struct {
	opts    Options
	path    *rules.Glob
	now     func() time.Time
	limiter *Limiter
	log     *slog.Logger
	fields  *capture.Fields // nil when redact_fields is empty
}

// New checks opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	switch {
	case opts.Sink == nil:
		return nil, errors.New("clientevent: Options.Sink is required")
	case opts.Service == "":
		return nil, errors.New("clientevent: Options.Service is required")
	case opts.Rate <= 0 || opts.Burst < 1:
		return nil, fmt.Errorf("clientevent: rate %v burst %d: want a positive rate and a burst of at least 1", opts.Rate, opts.Burst)
	}
	g, err := rules.CompileGlob(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("clientevent: path %q: %w", opts.Path, err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var fields *capture.Fields
	if len(opts.RedactFields) > 0 {
		fields = capture.NewFields(opts.RedactFields)
	}
	return &Handler{
		opts: opts, path: g, fields: fields,
		limiter: NewLimiter(opts.Rate, opts.Burst, opts.MaxClients),
		now:     opts.Now, log: opts.Logger,
	}, nil
}

// Intercept is the proxy's hook: it returns h for a POST to the client
// events path, nil (forward as usual) for anything else. It is called for
// every proxied request, so the common miss costs a comparison or two and
// allocates nothing.
func (h *Handler) Intercept(r *http.Request) http.Handler {
	if r.Method != http.MethodPost || !h.Match(r.URL.EscapedPath()) {
		return nil
	}
	return h
}

// Match reports whether p, an escaped path, is a client events path. It is
// matched cleaned, as the tracking rules match paths, and escaped, so that
// an id holding a "/" (sent as %2F) stays one segment.
func (h *Handler) Match(p string) bool {
	return h.path.Match(rules.CleanPath(p))
}

// ServeHTTP records the client event in r (it must be a POST to the client
// events path; see Intercept). A refusal (400, 429, 503) is left to the
// proxy to audit like any other answer; on success the proxy is told not
// to record the request again (X-Audit-Track: false), its event being the
// client event itself.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr := h.opts.Trusted.ClientIP(r.RemoteAddr, r.Header["X-Forwarded-For"])
	if ok, wait := h.limiter.Allow(addr, h.now()); !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		jsonhttp.Error(w, http.StatusTooManyRequests,
			fmt.Sprintf("too many client events from %s: at most %g per second, %d at once; retry after %d s",
				addr, h.opts.Rate, h.opts.Burst, secs))
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	in, err := parse(body)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	e := h.event(r, addr, in)
	if err := h.opts.Sink.Emit(e); err != nil {
		h.log.Warn("client event not recorded", "action", e.Action, "err", err)
		jsonhttp.Error(w, http.StatusServiceUnavailable, "client event not recorded: "+err.Error())
		return
	}
	w.Header().Set("X-Audit-Track", "false")
	jsonhttp.Write(w, http.StatusAccepted, map[string]string{"message": "ok"})
}

// redact is client_details with the values of redact_fields REDACTED.
func (h *Handler) redact(details []byte) []byte {
	if h.fields == nil || len(details) == 0 {
		return details
	}
	out, err := h.fields.Object(details)
	if err != nil {
		return nil // not reached: the body was decoded as JSON; never the values unredacted
	}
	return out
}

// event builds the client event of r.
func (h *Handler) event(r *http.Request, addr string, in input) *event.Event {
	typ, id := lastTwo(rules.CleanPath(r.URL.EscapedPath()))
	e := &event.Event{
		Type:     event.TypeClient,
		Level:    event.LevelFor(event.OutcomeOf(in.httpCode)),
		Outcome:  event.OutcomeOf(in.httpCode),
		Action:   h.opts.Service + "." + orRoot(typ) + "." + in.actionVerb,
		Creds:    h.opts.Identity.FromHTTP(r),
		Address:  addr,
		Req:      event.Request{Method: r.Method, Path: r.URL.Path, UserAgent: identity.UserAgent(r.Header), TraceID: identity.TraceID(r.Header)},
		Res:      event.Response{StatusCode: in.httpCode, ClientDetails: h.redact(in.clientDetails)},
		Message:  Message,
		Resource: event.Resource{Type: typ, ID: id},
	}
	if h.opts.RequestIDHeader != "" {
		if v := r.Header.Get(h.opts.RequestIDHeader); event.ValidID(v) {
			e.ID = v
		}
	}
	return e
}

// lastTwo returns the last two segments of a clean rooted escaped path,
// unescaped: the resource type and id. A one-segment path has only an id.
func lastTwo(p string) (typ, id string) {
	p = strings.TrimPrefix(p, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", unescape(p)
	}
	id, p = p[i+1:], p[:i]
	return unescape(p[strings.LastIndexByte(p, '/')+1:]), unescape(id)
}

func unescape(segment string) string {
	if s, err := url.PathUnescape(segment); err == nil {
		return s
	}
	return segment // EscapedPath gives valid escapes; kept as is otherwise
}

func orRoot(s string) string {
	if s == "" {
		return "root"
	}
	return s
}
