package sidecartest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Recorder is a webhook receiver: a real server that keeps every request
// and body, and answers Status.
type Recorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	reqs   []*http.Request
}

// NewRecorder starts a receiver answering with status.
func NewRecorder(t testing.TB, status int) *Recorder {
	rec := &Recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, b)
		rec.reqs = append(rec.reqs, r.Clone(context.Background()))
		rec.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// Requests are the requests received, in arrival order.
func (rec *Recorder) Requests() []*http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]*http.Request(nil), rec.reqs...)
}

// WebhookBody is one delivery.
type WebhookBody struct {
	NotificationType string          `json:"notification_type"`
	Event            json.RawMessage `json:"event"`
}

// Delivered decodes the bodies received, in arrival order.
func (rec *Recorder) Delivered(t testing.TB) []WebhookBody {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []WebhookBody
	for _, b := range rec.bodies {
		var wb WebhookBody
		if err := json.Unmarshal(b, &wb); err != nil {
			t.Fatalf("webhook body %q: %v", b, err)
		}
		out = append(out, wb)
	}
	return out
}
