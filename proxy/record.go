package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/rules"
)

// errRefused makes ReverseProxy drop the upstream's answer (fail_closed).
var errRefused = errors.New("audit log unavailable")

// modifyResponse takes the X-Audit-* headers off the upstream's response,
// stamps the request id on it, notes streams, and in fail_closed mode
// refuses to pass on a tracked answer that could not be audited.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	ctx := resp.Request.Context()
	x := exchangeOf(ctx)
	if x == nil {
		return nil
	}
	x.audit.take(resp.Header)
	if loc := resp.Header["Location"]; resp.StatusCode == http.StatusCreated && len(loc) > 0 {
		x.location = loc[0] // names what was created (resource_template's {id})
	}
	if resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols {
		x.body.rc = resp.Body
		resp.Body = &x.body
	}
	for k := range resp.Trailer {
		// Not announced to the client: the values, read after the body,
		// then reach the exchange under http.TrailerPrefix and are taken
		// in finish.
		if len(k) > 8 && strings.EqualFold(k[:8], "X-Audit-") {
			delete(resp.Trailer, k)
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		x.hijacked = true // ReverseProxy hijacks and writes the 101 itself
		resp.Header[p.requestIDHeader] = x.idValue()
	}
	if resp.StatusCode == http.StatusSwitchingProtocols || isEventStream(resp.Header) {
		x.stream = true
		if p.opts.Streams != nil && !p.opts.Streams.markStream(ctx) {
			return errShuttingDown
		}
	}
	if p.opts.FailClosed != nil && p.opts.Rules.Tracked(x.route, resp.StatusCode, x.audit.track) && p.opts.FailClosed() {
		x.refused = true
		return errRefused
	}
	return nil
}

var errShuttingDown = errors.New("shutting down")

// refuseBody answers a request whose body could not be read ahead: 408
// when it came too slowly, 400 when it was malformed; a client that left
// gets nothing (its event says it went away).
func (p *Proxy) refuseBody(x *exchange, err error) {
	switch {
	case x.reqBody.timedOut || errors.Is(err, errBodyTooSlow):
		x.reqBody.timedOut = true
		jsonhttp.Error(x, http.StatusRequestTimeout, "request body sent too slowly")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF):
		x.clientLeft()
	default:
		jsonhttp.Error(x, http.StatusBadRequest, "bad request body: "+err.Error())
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream")
}

// errorHandler answers when the upstream could not be reached (502, or 504
// on a timeout) or its answer was refused (503).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeOf(r.Context())
	switch {
	case x != nil && x.reqBody.timedOut:
		jsonhttp.Error(w, http.StatusRequestTimeout, "request body sent too slowly")
		return
	case errors.Is(err, errRefused):
		jsonhttp.Error(w, http.StatusServiceUnavailable, "audit log unavailable: request refused (on_write_error: fail_closed)")
		return
	case errors.Is(err, errShuttingDown):
		jsonhttp.Error(w, http.StatusServiceUnavailable, "shutting down")
		return
	case r.Context().Err() != nil || x != nil && x.reqBody.broken != nil:
		// The client left (or broke off its body) before the app's
		// answer head was sent to it: its doing, not the app's, so 499
		// and no upstream error. (The transport's error is then the
		// context's, or the body's read error.)
		if x != nil {
			x.clientLeft()
		}
		panic(http.ErrAbortHandler)
	}
	reason := upstreamReason(err)
	p.opts.Metrics.UpstreamErrors.WithLabelValues(reason).Inc()
	if x != nil {
		x.upstreamErr = err
		x.upstreamTimeout = reason == "timeout"
	}
	// Debug, not Warn: an app that is down fails every request, and the
	// prober logs (and records) the outage once.
	p.log.Debug("upstream request failed", "reason", reason, "method", r.Method, "path", r.URL.Path, "err", err)
	if p.opts.UpstreamFailed != nil {
		p.opts.UpstreamFailed(err)
	}
	status := http.StatusBadGateway
	if reason == "timeout" {
		status = http.StatusGatewayTimeout
	}
	jsonhttp.Error(w, status, "upstream unreachable: "+reason)
}

// upstreamErrorText is an upstream error as the event keeps it: nothing the
// app sent is quoted in it. net/http's parse errors quote what they could
// not parse (a status line, a header line, a length): that may be a piece of
// a body meant for someone else or a Set-Cookie with a session in it. A
// malformed header line is named by its header, every other quoted part is
// left out, and the text is bounded.
func upstreamErrorText(err error) string {
	s := err.Error()
	name := ""
	const malformed = "malformed MIME header"
	if i := strings.Index(s, malformed); i >= 0 {
		rest := s[i+len(malformed):]
		// The line follows, quoted (`: missing colon: "Set-Cookie x"`) or
		// not (` line: Set-Cookie: x`): keep the reason, name the header.
		line := rest
		if q := strings.IndexByte(rest, '"'); q >= 0 {
			line = strings.Trim(rest[q:], `"`)
			rest = strings.TrimSuffix(rest[:q], ": ")
		} else if l := strings.Index(rest, " line: "); l >= 0 {
			line, rest = rest[l+len(" line: "):], ""
		} else {
			line, rest = "", ""
		}
		name = line
		if k := strings.IndexAny(line, ": \t"); k >= 0 {
			name = line[:k]
		}
		if len(name) > 64 {
			name = name[:64]
		}
		s = s[:i+len(malformed)] + rest
	}
	s = withoutQuoted(s)
	if name != "" {
		s += fmt.Sprintf(" (header %q; its line is not logged)", name)
	}
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}

// withoutQuoted drops every %q-quoted part of s (with the ": " before it).
func withoutQuoted(s string) string {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(strings.TrimSuffix(strings.TrimSuffix(s[:i], " "), ":"))
		end := i + 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		s = s[min(end+1, len(s)):]
		i = strings.IndexByte(s, '"')
	}
	b.WriteString(s)
	return b.String()
}

// upstreamReasons are every value upstreamReason gives.
var upstreamReasons = [...]string{"refused", "reset", "timeout", "dns", "other"}

// upstreamReason classifies an upstream error for the metric label.
func upstreamReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "dns"
	}
	return "other"
}

// record decides whether the request is tracked and, if so, emits its
// final event.
func (p *Proxy) record(x *exchange, r *http.Request, status int, elapsed time.Duration, panicked any) {
	p.emit(x, r, status, elapsed, panicked, false)
}

// recordStarted emits the started event of a long-running answer, if the
// request is tracked (it is called while the answer runs: it reads only
// what the answer's head fixed).
func (p *Proxy) recordStarted(x *exchange, r *http.Request, status int) {
	p.emit(x, r, status, p.now().Sub(x.start), nil, true)
}

func (p *Proxy) emit(x *exchange, r *http.Request, status int, elapsed time.Duration, panicked any, started bool) {
	a := &x.audit
	track := a.track
	if x.refused {
		// Refused because it is tracked (before forwarding, or for the
		// status the upstream answered): the 503 itself may not be.
		track = "true"
	}
	d := p.opts.Rules.Decide(x.route, rules.Input{Status: status, Track: track, Action: a.action, Level: a.level, Location: x.location})
	if !d.Tracked {
		return
	}
	e := p.events.Get().(*event.Event)
	defer func() { *e = event.Event{}; p.events.Put(e) }()
	e.ID = x.id
	e.Type = event.TypeHTTP
	e.Level = d.Level
	e.Outcome = event.OutcomeOf(status)
	e.Action = d.Action
	e.Creds = identity.Override(p.opts.Identity.FromHTTP(r), a.userID, a.userName, a.authType)
	e.Address = p.opts.Trusted.ClientIP(r.RemoteAddr, r.Header["X-Forwarded-For"])
	e.Req = event.Request{Method: r.Method, Path: r.URL.Path, UserAgent: identity.UserAgent(r.Header), TraceID: identity.TraceID(r.Header)}
	if p.opts.LogQuery && r.URL.RawQuery != "" {
		e.Req.Query = p.redact.Query(r.URL.RawQuery)
	}
	if started {
		e.ID = p.ids.New()
		e.Res = event.Response{StatusCode: status}
	} else {
		e.Res = event.Response{StatusCode: status, Bytes: x.bytes}
		if x.long.started {
			e.Req.Bytes = x.long.in.Load()
			if x.hijacked {
				e.Res.Bytes = x.long.out.Load()
			}
		}
	}
	e.DurationMS = float64(elapsed.Microseconds()) / 1000
	e.Message = a.message
	if a.resource != "" {
		typ, id, _ := strings.Cut(a.resource, ":")
		e.Resource = event.Resource{Type: typ, ID: id}
	} else if d.ResourceType != "" {
		e.Resource = event.Resource{Type: d.ResourceType, ID: d.ResourceID}
	}
	var details event.Details
	if a.details != "" {
		// json.Compact passes invalid UTF-8 inside strings through; a line
		// must be UTF-8, so such details are kept as a (repaired) string.
		if obj, err := event.CompactObject([]byte(a.details)); err == nil && utf8.ValidString(a.details) {
			e.Res.ClientDetails = p.redactDetails(obj)
		} else {
			details.String("invalid_audit_details", a.details)
		}
	}
	if a.level != "" && !strings.EqualFold(a.level, event.LevelInfo) && !strings.EqualFold(a.level, event.LevelError) {
		details.String("invalid_audit_level", a.level) // the computed level stays
	}
	if !started {
		p.captured(e, x, r)
	}
	switch {
	case started:
		details.String("stage", "started").String("request_id", x.id)
	case x.long.started:
		details.String("stage", "completed")
		fallthrough
	default:
		p.whatWentWrong(&details, e, x, r, panicked)
	}
	e.Details = details.Object()
	if err := p.opts.Sink.Emit(e); err != nil {
		p.log.Warn("audit event not recorded", "id", e.ID, "err", err)
	}
}

// redactDetails is X-Audit-Details with the values of redact_fields
// REDACTED, at any depth.
func (p *Proxy) redactDetails(obj []byte) []byte {
	if p.fields == nil {
		return obj
	}
	if redacted, err := p.fields.Object(obj); err == nil {
		return redacted
	}
	return nil // not reached (CompactObject found one JSON object); never the values unredacted
}

// whatWentWrong adds to details (and to e's outcome and level) what the
// final event says of a request that did not go as asked.
func (p *Proxy) whatWentWrong(details *event.Details, e *event.Event, x *exchange, r *http.Request, panicked any) {
	a := &x.audit
	switch {
	case x.reqBody.timedOut:
		details.String("refused", "request body sent too slowly (under 1 KiB/s after 10 s)")
	case x.refused:
		details.String("refused", "audit log unavailable (on_write_error: fail_closed)")
	case x.upstreamTimeout:
		details.String("upstream_error", "timeout")
	case x.upstreamErr != nil:
		details.String("upstream_error", upstreamErrorText(x.upstreamErr))
	case x.body.err != nil && r.Context().Err() == nil:
		// The upstream cut its body short (the client is still there: a
		// client that leaves cancels the read too): the client got less
		// than the app meant to send, whatever the status said.
		details.String("upstream_error", "response body cut short: "+upstreamErrorText(x.body.err))
		e.Outcome = event.OutcomeFailure
		if a.level == "" {
			e.Level = event.LevelError
		}
	case panicked != nil || x.clientGone:
		details.String("aborted", "the client went away before the response was complete")
	}
}

func netipParse(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

// Refused records a request net/http refused before any handler ran (see
// Listener): one event, action trailcar.request.refused, with what can be
// read of the request line; its query string is never kept.
func (p *Proxy) Refused(remote string, status int, sent []byte, reason string) {
	method, path := "-", "-"
	if line, _, ok := bytes.Cut(sent, []byte("\r\n")); ok || len(sent) > 0 {
		if m, rest, ok := bytes.Cut(line, []byte(" ")); ok && len(m) <= 16 {
			method = string(m)
			target, _, _ := bytes.Cut(rest, []byte(" "))
			target, _, _ = bytes.Cut(target, []byte("?"))
			path = string(target)
		}
	}
	mi := methodIndex(method)
	p.requestCounter(mi, status).Inc()
	addr := remote
	if host, _, err := net.SplitHostPort(remote); err == nil {
		addr = host
	}
	e := &event.Event{
		ID: p.ids.New(), Type: event.TypeHTTP, Level: event.LevelError, Outcome: event.OutcomeFailure,
		Action:  ActionRefused,
		Creds:   event.Creds{Type: identity.TypePublicAccess},
		Address: addr,
		Req:     event.Request{Method: method, Path: path},
		Res:     event.Response{StatusCode: status},
		Details: (&event.Details{}).String("refused_by", "net/http").String("reason", reason).Object(),
	}
	if err := p.opts.Sink.Emit(e); err != nil {
		p.log.Warn("audit event not recorded", "id", e.ID, "err", err)
	}
}

// ActionRefused is the action of a request refused before any handler ran.
const ActionRefused = "trailcar.request.refused"
