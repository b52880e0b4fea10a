package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/webhook"
)

type failureDetails struct {
	Endpoint  string `json:"endpoint"`
	URL       string `json:"url"`
	EventID   string `json:"event_id"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

func TestDownReceiverIsReportedNotLooped(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	hostPort := strings.TrimPrefix(down.URL, "http://")
	down.Close() // connections are now refused
	cfg := config("http://trail:pw@" + hostPort + "/hook")
	cfg.RetryFor = 150 * time.Millisecond
	reports := make(chan *event.Event, 4)
	h := newHarness(t, cfg, webhook.Options{Report: func(e *event.Event) { reports <- e }})

	ev := encode(t, &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo})
	h.Publish(ev)
	var report *event.Event
	select {
	case report = <-reports:
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery_failed report")
	}

	if report.Type != webhook.TypeDeliveryFailed || report.Level != event.LevelError || report.Outcome != event.OutcomeFailure {
		t.Errorf("report type/level/outcome = %s/%s/%s", report.Type, report.Level, report.Outcome)
	}
	var details failureDetails
	if err := json.Unmarshal(report.Details, &details); err != nil {
		t.Fatalf("details %s: %v", report.Details, err)
	}
	wantID := string(ev[7:39])
	if details.Endpoint != "event_log" || details.URL != "http://"+hostPort+"/hook" || details.EventID != wantID ||
		details.Attempts < 2 || !strings.Contains(details.LastError, "connection refused") {
		t.Errorf("details = %+v, want endpoint event_log, url without credentials, event_id %s, attempts > 1, connection refused",
			details, wantID)
	}

	// The caller writes the report, and the written line comes back to
	// Publish: it must not be queued for the endpoint that failed.
	h.Publish(encode(t, report))
	h.close(t)

	want := map[string]float64{"failed": 1, "retried": float64(details.Attempts - 1), "dropped": 0, "delivered": 0}
	for result, n := range want {
		if got := h.count("event_log", result); got != n {
			t.Errorf("%s = %v, want %v", result, got, n)
		}
	}
	if len(reports) != 0 {
		t.Errorf("%d more reports, want none", len(reports))
	}
}

// Only the endpoint a delivery_failed event names is spared it.
func TestDeliveryFailedSentToOtherEndpoints(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	h := newHarness(t, config(recv.URL), webhook.Options{})
	for _, endpoint := range []string{"event_log", "general"} {
		h.Publish(encode(t, &event.Event{Type: webhook.TypeDeliveryFailed, Level: event.LevelError,
			Outcome: event.OutcomeFailure, Details: json.RawMessage(`{"endpoint":"` + endpoint + `"}`)}))
	}
	h.close(t)

	got := recv.Requests()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte(`"details":{"endpoint":"general"}`)) {
		t.Fatalf("receiver got %d requests, want only the report naming general", len(got))
	}
}

// Publish never waits for a receiver: with every delivery hanging and
// the queue full, events are dropped and counted.
func TestPublishNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int32
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	cfg := config(recv.URL)
	cfg.Queue = 10
	cfg.Timeout = time.Minute
	h := newHarness(t, cfg, webhook.Options{})

	for range workers {
		h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	}
	sidecartest.Eventually(t, "every worker to hang", func() bool { return inFlight.Load() == workers })
	lines := make([][]byte, 10*cfg.Queue)
	for i := range lines {
		lines[i] = line(t, event.TypeHTTP, event.LevelInfo)
	}
	for _, l := range lines {
		h.Publish(l)
	}

	if got, want := h.count("event_log", "dropped"), float64(len(lines)-cfg.Queue); got != want {
		t.Errorf("dropped = %v, want %v", got, want)
	}
	const gauge = `
# HELP trailcar_webhook_queue_length Events waiting to be delivered to the webhook.
# TYPE trailcar_webhook_queue_length gauge
trailcar_webhook_queue_length 10
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(gauge), "trailcar_webhook_queue_length"); err != nil {
		t.Error(err)
	}

	// Close gives up at its deadline: what was queued or in flight is
	// dropped too, and Close says so.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
	if got, want := h.count("event_log", "dropped"), float64(workers+len(lines)); got != want {
		t.Errorf("dropped after Close = %v, want %v", got, want)
	}
}

// A delivery that hangs holds one worker, not the others.
func TestSlowDeliveryDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	slow := line(t, event.TypeHTTP, event.LevelInfo)
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if body, _ := io.ReadAll(r.Body); bytes.Contains(body, slow[:len(slow)-1]) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := newHarness(t, config(recv.URL), webhook.Options{})

	h.Publish(slow)
	const others = 20
	for range others {
		h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	}
	sidecartest.Eventually(t, "the events behind the slow one", func() bool { return h.count("event_log", "delivered") == others })
	close(release)
	h.close(t)

	if got := h.count("event_log", "delivered"); got != others+1 {
		t.Errorf("delivered = %v, want %d", got, others+1)
	}
}

func TestCloseDrainsAndLeavesNoGoroutines(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	})
	// Counted with the receiver up: the dispatcher's connections to it
	// (client and server side) must be gone too.
	before := runtime.NumGoroutine()
	h := newHarness(t, config(recv.URL), webhook.Options{})
	const n = 50
	for range n {
		h.Publish(line(t, event.TypeHTTP, event.LevelInfo))
	}
	h.close(t)

	if got := h.count("event_log", "delivered"); got != n {
		t.Errorf("delivered = %v, want %d", got, n)
	}
	if got := len(recv.Requests()); got != n {
		t.Errorf("receiver got %d, want %d", got, n)
	}
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
