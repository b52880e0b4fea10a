package sidecar

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

// Admin actions (docs/events.md "Which requests become events"): every request to these routes is an event.
const (
	ActionLogsRead             = "trailcar.logs.read"
	ActionEventsRead           = "trailcar.events.read"
	ActionEventsDelete         = "trailcar.events.delete"
	ActionNotificationsCreate  = "trailcar.notifications.create"
	ActionNotificationsRead    = "trailcar.notifications.read"
	ActionNotificationsArchive = "trailcar.notifications.archive"
	ActionNotificationsPurge   = "trailcar.notifications.purge"
	ActionIntegrityRead        = "trailcar.integrity.read"
)

func (s *Sidecar) loadToken() error {
	var err error
	if s.token, err = readToken("admin.token_file", s.cfg.Admin.TokenFile); err != nil {
		return err
	}
	s.deleteToken, err = readToken("admin.delete_token_file", s.cfg.Admin.DeleteTokenFile)
	return err
}

// readToken reads a token file (trimmed); nil when path is "".
func readToken(key, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Key: key, Value: path, Err: err}
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return nil, &ConfigError{Key: key, Value: path, Err: errors.New("the file is empty")}
	}
	return []byte(tok), nil
}

// adminHandler routes the admin port (docs/admin-api.md "Routes").
func (s *Sidecar) adminHandler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.streamSlots = make(chan struct{}, s.cfg.Admin.MaxStreams)
	s.querySlots = make(chan struct{}, s.cfg.Admin.MaxQueries)
	events := s.eventsHandler(s.trail)
	s.mountEvents(mux, events)
	s.mountLogs(mux)
	s.mountIntegrity(mux)
	if err := s.mountNotifications(mux, s.trail, events); err != nil {
		return nil, err
	}
	if err := s.mountViewer(mux); err != nil {
		return nil, err
	}
	// Anything else is a JSON 404, as every other error of the port.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Error(w, http.StatusNotFound, "no such route: "+r.URL.Path)
	})
	// A non-canonical path is 404, never a redirect; a Host that is not
	// allowed is 421 (the /api routes check it themselves, to audit it).
	return s.checkHost(logs.CanonicalPathsOnly(mux)), nil
}

// readyz: ready when the audit file takes writes and the upstream answered
// the last probe.
func (s *Sidecar) readyz(w http.ResponseWriter, r *http.Request) {
	var reasons []string
	// Only fail_closed turns a write error into unreadiness: with
	// fail_open the pod keeps serving on purpose (the error shows in
	// metrics and alerts), and an unready pod would leave the Service.
	if s.cfg.ActivityTracker.OnWriteError == "fail_closed" && !s.writer.Healthy() {
		reasons = append(reasons, "audit log not writable (on_write_error: fail_closed)")
	}
	if ok, err := s.prober.Reachable(); !ok {
		reasons = append(reasons, fmt.Sprintf("upstream %s unreachable: %v", s.upstream, err))
	}
	if len(reasons) > 0 {
		jsonhttp.Write(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reasons": reasons})
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ready"})
}

// guarded wraps an admin API handler: it needs the token (when one is
// configured) and is itself audited with action, at completion, or at
// connect for a stream (stream reports whether r is one).
func (s *Sidecar) guarded(action string, stream func(*http.Request) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		aw := &adminWriter{ResponseWriter: w}
		isStream := stream != nil && stream(r)
		if isStream {
			aw.onHeader = func(status int) { s.auditAdmin(r, action, status, 0, time.Since(start)) }
		}
		defer func() {
			if aw.onHeader == nil {
				status := aw.status
				if status == 0 {
					status = http.StatusOK
				}
				s.auditAdmin(r, action, status, aw.bytes, time.Since(start))
			}
		}()
		if status, msg := s.admit(r, action); status != 0 {
			aw.onHeader = nil
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="trailcar"`)
			}
			jsonhttp.Error(aw, status, msg)
			return
		}
		if isStream {
			select {
			case s.streamSlots <- struct{}{}:
				defer func() { <-s.streamSlots }()
			default:
				aw.onHeader = nil
				s.metrics.AdminRefused.WithLabelValues("streams").Inc()
				w.Header().Set("Retry-After", "10")
				jsonhttp.Error(aw, http.StatusTooManyRequests, fmt.Sprintf("too many streams open (admin.max_streams: %d)", s.cfg.Admin.MaxStreams))
				return
			}
		}
		h.ServeHTTP(aw, r)
	})
}

// admit checks a request to an audited admin route: its Host, then its
// token (the delete token for a delete, when one is set). It returns 0 or
// the status and message of the refusal, which it counts.
func (s *Sidecar) admit(r *http.Request, action string) (int, string) {
	if !s.hostAllowed(r.Host) {
		s.metrics.AdminRefused.WithLabelValues("host").Inc()
		return http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here (admin.allowed_hosts)", r.Host)
	}
	deleting := action == ActionEventsDelete || action == ActionNotificationsPurge
	switch {
	case deleting && s.deleteToken != nil:
		if !bearerIs(r, s.deleteToken) {
			s.metrics.AdminRefused.WithLabelValues("token").Inc()
			if bearerIs(r, s.token) {
				return http.StatusForbidden, "deleting needs the delete token (admin.delete_token_file)"
			}
			return http.StatusUnauthorized, "missing or wrong bearer token (deleting needs the delete token)"
		}
	case s.token != nil && !bearerIs(r, s.token):
		s.metrics.AdminRefused.WithLabelValues("token").Inc()
		return http.StatusUnauthorized, "missing or wrong bearer token"
	}
	return 0, ""
}

// checkHost answers 421 to a request whose Host is not allowed, except on
// the /api routes, whose guard checks (and audits) it.
func (s *Sidecar) checkHost(next http.Handler) http.Handler {
	host := []string{s.cfg.Host}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Trailcar-Host"] = host // which pod answered (a cluster's peers say so)
		if !strings.HasPrefix(r.URL.Path, "/api/") && !s.hostAllowed(r.Host) {
			s.metrics.AdminRefused.WithLabelValues("host").Inc()
			jsonhttp.Error(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here (admin.allowed_hosts)", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a Host header may reach the admin port: an
// IP literal, localhost, the listen address's host, or a name in
// admin.allowed_hosts. A page a browser loaded from another name (DNS
// rebinding) sends that name, and is refused.
func (s *Sidecar) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return true // no Host (HTTP/1.0): not a browser
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	if lh, _, err := net.SplitHostPort(s.cfg.Admin.Listen); err == nil && lh != "" && strings.EqualFold(lh, host) {
		return true
	}
	for _, h := range s.cfg.Admin.AllowedHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// bearerIs compares the request's bearer token with want, in constant time.
func bearerIs(r *http.Request, want []byte) bool {
	if want == nil {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) == 1
}

func (s *Sidecar) auditAdmin(r *http.Request, action string, status int, bytes int64, d time.Duration) {
	outcome := event.OutcomeOf(status)
	e := &event.Event{
		Type: event.TypeHTTP, Level: event.LevelFor(outcome), Outcome: outcome, Action: action,
		Creds:      s.creds.FromHTTP(r),
		Address:    s.trusted.ClientIP(r.RemoteAddr, r.Header["X-Forwarded-For"]),
		Req:        event.Request{Method: r.Method, Path: r.URL.Path, UserAgent: identity.UserAgent(r.Header), TraceID: identity.TraceID(r.Header)},
		Res:        event.Response{StatusCode: status, Bytes: bytes},
		DurationMS: float64(d.Microseconds()) / 1000,
	}
	if r.URL.RawQuery != "" {
		// Admin queries are filters, but a client that cannot set headers
		// (a browser's EventSource) may put a token there.
		e.Req.Query = s.redact.Query(r.URL.RawQuery)
	}
	s.emit(e)
}

// adminWriter records the status and size of an admin response and runs
// onHeader when the header is written (the audit event of a stream).
type adminWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	onHeader func(status int)
}

func (w *adminWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.onHeader != nil {
			w.onHeader(code)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *adminWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *adminWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
