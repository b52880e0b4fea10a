package sidecar

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

// Admin actions (README "Which requests become events"): every request to these routes is an event.
const (
	ActionLogsRead            = "trailcar.logs.read"
	ActionEventsRead          = "trailcar.events.read"
	ActionEventsDelete        = "trailcar.events.delete"
	ActionNotificationsCreate = "trailcar.notifications.create"
)

func (s *Sidecar) loadToken() error {
	if s.cfg.Admin.TokenFile == "" {
		return nil
	}
	data, err := os.ReadFile(s.cfg.Admin.TokenFile)
	if err != nil {
		return &ConfigError{Key: "admin.token_file", Value: s.cfg.Admin.TokenFile, Err: err}
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return &ConfigError{Key: "admin.token_file", Value: s.cfg.Admin.TokenFile, Err: errors.New("the file is empty")}
	}
	s.token = []byte(tok)
	return nil
}

// adminHandler routes the admin port (README "Admin API").
func (s *Sidecar) adminHandler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	trail := s.trailStore()
	s.mountEvents(mux, trail)
	s.mountLogs(mux, trail)
	if err := s.mountNotifications(mux); err != nil {
		return nil, err
	}
	if err := s.mountViewer(mux); err != nil {
		return nil, err
	}
	return logs.CanonicalPathsOnly(mux), nil // a non-canonical path is 404, never a redirect
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
		if stream != nil && stream(r) {
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
		if !s.authorized(r) {
			aw.onHeader = nil
			w.Header().Set("WWW-Authenticate", `Bearer realm="trailcar"`)
			jsonhttp.Error(aw, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h.ServeHTTP(aw, r)
	})
}

// authorized compares the bearer token in constant time.
func (s *Sidecar) authorized(r *http.Request) bool {
	if s.token == nil {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) == 1
}

func (s *Sidecar) auditAdmin(r *http.Request, action string, status int, bytes int64, d time.Duration) {
	outcome := event.OutcomeOf(status)
	e := &event.Event{
		Type: event.TypeHTTP, Level: event.LevelFor(outcome), Outcome: outcome, Action: action,
		Creds:      identity.FromRequest(r.Header),
		Address:    s.trusted.ClientIP(r.RemoteAddr, r.Header["X-Forwarded-For"]),
		Req:        event.Request{Method: r.Method, Path: r.URL.Path},
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
