package sidecartest

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Recorder is a fake webhook receiver: a real HTTP server that keeps
// every request it gets, then lets its handler answer. It does not log:
// the TLS handshake errors a test provokes are expected.
type Recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []Request
}

// Request is one request a Recorder got.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// BasicAuth returns the request's basic-auth credentials, as
// http.Request.BasicAuth does.
func (r Request) BasicAuth() (user, password string, ok bool) {
	return (&http.Request{Header: r.Header}).BasicAuth()
}

// NewRecorder starts a receiver that answers every request with status.
func NewRecorder(t testing.TB, status int) *Recorder {
	return NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
}

// NewRecorderFunc starts a receiver answered by handler, which may read
// the body again; nil answers 204.
func NewRecorderFunc(t testing.TB, handler http.HandlerFunc) *Recorder {
	rec := unstartedRecorder(t, handler)
	rec.Start()
	return rec
}

// NewTLSRecorder starts a receiver over TLS, with a certificate no
// client trusts unless given rec.Client(); it answers 204.
func NewTLSRecorder(t testing.TB) *Recorder {
	rec := unstartedRecorder(t, nil)
	rec.StartTLS()
	return rec
}

// NewHangingRecorder starts a receiver that reads each request and does
// not answer until release is called (or the client gives up). release
// runs at the end of the test too, before the server closes, so that a
// sidecar's shutdown does not wait on it.
func NewHangingRecorder(t testing.TB) (rec *Recorder, release func()) {
	hang := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(hang) }) }
	rec = NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(release) // cleanups run last first: before rec.Close
	return rec, release
}

func unstartedRecorder(t testing.TB, handler http.HandlerFunc) *Recorder {
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	}
	rec := &Recorder{}
	rec.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.got = append(rec.got, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		rec.mu.Unlock()
		handler(w, r)
	}))
	rec.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(rec.Close)
	return rec
}

// Requests are the requests received, in arrival order.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.got...)
}

// WebhookBody is one delivery.
type WebhookBody struct {
	NotificationType string          `json:"notification_type"`
	Event            json.RawMessage `json:"event"`
}

// Delivered decodes the bodies received, in arrival order.
func (rec *Recorder) Delivered(t testing.TB) []WebhookBody {
	t.Helper()
	var out []WebhookBody
	for _, r := range rec.Requests() {
		var wb WebhookBody
		if err := json.Unmarshal(r.Body, &wb); err != nil {
			t.Fatalf("webhook body %q: %v", r.Body, err)
		}
		out = append(out, wb)
	}
	return out
}
