package webhook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/webhook"
)

// batchConfig posts to url in batches of up to maxEvents.
func batchConfig(url string, maxEvents int, maxWait time.Duration) webhook.Config {
	cfg := config(url)
	cfg.Batch = webhook.Batch{MaxEvents: maxEvents, MaxWait: maxWait}
	return cfg
}

// publishN publishes n http events and returns their ids in order.
func publishN(t *testing.T, h *harness, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		e := &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Service: "console", Host: "h"}
		h.Publish(encode(t, e))
		ids[i] = e.ID
	}
	return ids
}

// batchIDs decodes a batched body: a JSON array of envelopes. It returns
// the events' ids in body order.
func batchIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var envelopes []sidecartest.WebhookBody
	if err := json.Unmarshal(body, &envelopes); err != nil {
		t.Fatalf("body is not a JSON array of envelopes: %v\n%.200s", err, body)
	}
	ids := make([]string, len(envelopes))
	for i, env := range envelopes {
		if env.NotificationType != webhook.NotificationType {
			t.Errorf("envelope %d: notification_type %q", i, env.NotificationType)
		}
		var e event.Event
		if err := event.Decode(env.Event, &e); err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
		ids[i] = e.ID
	}
	return ids
}

// 100 events arrive in at most ⌈100/max_events⌉ POSTs, each an array of
// at most max_events envelopes, together the events in publish order.
func TestBatchOrderAndCount(t *testing.T) {
	const events = 100
	for _, maxEvents := range []int{7, 10, 100} {
		t.Run("max_events="+strconv.Itoa(maxEvents), func(t *testing.T) {
			recv := sidecartest.NewRecorderFunc(t, nil)
			// max_wait is long: every batch but the last goes because it
			// is full, the last because Close sends it.
			h := newHarness(t, batchConfig(recv.URL, maxEvents, time.Minute), webhook.Options{})
			want := publishN(t, h, events)
			h.close(t)

			reqs := recv.Requests()
			if maxPosts := (events + maxEvents - 1) / maxEvents; len(reqs) > maxPosts {
				t.Errorf("%d POSTs, want at most %d", len(reqs), maxPosts)
			}
			var got []string
			for i, req := range reqs {
				ids := batchIDs(t, req.Body)
				if len(ids) == 0 || len(ids) > maxEvents {
					t.Errorf("POST %d holds %d events, want 1 to %d", i, len(ids), maxEvents)
				}
				if ct := req.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("POST %d: Content-Type %q", i, ct)
				}
				got = append(got, ids...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("received %d events %v\nwant %d in publish order %v", len(got), got, len(want), want)
			}
			if n := h.count("event_log", "delivered"); n != events {
				t.Errorf("delivered = %v, want %d (events, not POSTs)", n, events)
			}
		})
	}
}

// A receiver that refuses the first attempt of every batch gets the same
// body again; what it accepted is every event once, in order.
func TestBatchRetriedAsAWhole(t *testing.T) {
	const events, maxEvents = 100, 10
	var calls atomic.Int32
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, batchConfig(recv.URL, maxEvents, time.Minute), webhook.Options{})
	want := publishN(t, h, events)
	h.close(t)

	reqs := recv.Requests()
	if len(reqs)%2 != 0 || len(reqs) > 2*events/maxEvents {
		t.Fatalf("%d POSTs, want an even number, at most %d", len(reqs), 2*events/maxEvents)
	}
	var accepted []string
	for i := 0; i < len(reqs); i += 2 {
		if string(reqs[i].Body) != string(reqs[i+1].Body) {
			t.Errorf("POST %d is not the refused POST %d sent again", i+1, i)
		}
		accepted = append(accepted, batchIDs(t, reqs[i+1].Body)...)
	}
	if !slices.Equal(accepted, want) {
		t.Errorf("accepted %d events, want the %d published, in order, once each", len(accepted), len(want))
	}
	for result, n := range map[string]float64{"delivered": events, "retried": events, "failed": 0, "dropped": 0} {
		if got := h.count("event_log", result); got != n {
			t.Errorf("%s = %v, want %v", result, got, n)
		}
	}
}

// A batch that is not full goes max_wait after its first event, as an
// array even when it holds one event.
func TestBatchMaxWait(t *testing.T) {
	const maxWait = 300 * time.Millisecond
	arrived := make(chan time.Time, 4)
	recv := sidecartest.NewRecorderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- time.Now()
		w.WriteHeader(http.StatusNoContent)
	})
	h := newHarness(t, batchConfig(recv.URL, 10, maxWait), webhook.Options{})

	for _, n := range []int{1, 3} {
		start := time.Now()
		want := publishN(t, h, n)
		select {
		case at := <-arrived:
			if waited := at.Sub(start); waited < maxWait {
				t.Errorf("%d events sent after %v, before max_wait %v", n, waited, maxWait)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d events: no POST within 5s", n)
		}
		reqs := recv.Requests()
		if got := batchIDs(t, reqs[len(reqs)-1].Body); !slices.Equal(got, want) {
			t.Errorf("body holds %v, want %v", got, want)
		}
	}
	if body := recv.Requests()[0].Body; body[0] != '[' {
		t.Errorf("one event's body %.40s…, want a JSON array", body)
	}
}

// Close sends a partial batch at once, not max_wait later.
func TestBatchCloseSendsPartialBatch(t *testing.T) {
	recv := sidecartest.NewRecorderFunc(t, nil)
	h := newHarness(t, batchConfig(recv.URL, 10, time.Hour), webhook.Options{})
	want := publishN(t, h, 3)
	start := time.Now()
	h.close(t)

	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	if reqs := recv.Requests(); len(reqs) != 1 || !slices.Equal(batchIDs(t, reqs[0].Body), want) {
		t.Fatalf("got %d POSTs, want one holding the 3 events", len(reqs))
	}
}

// A batch given up is counted per event and reported once, with every id.
func TestBatchGivenUpReportedAsAWhole(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close() // connections are now refused
	// max_wait is long: the 5 events make one batch, which Close sends.
	cfg := batchConfig(url, 10, time.Minute)
	cfg.RetryFor = 50 * time.Millisecond
	reports := make(chan *event.Event, 4)
	h := newHarness(t, cfg, webhook.Options{Report: func(e *event.Event) { reports <- e }})
	want := publishN(t, h, 5)
	h.close(t)

	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1 for the batch", len(reports))
	}
	report := <-reports
	var details struct {
		EventID  string   `json:"event_id"`
		Events   int      `json:"events"`
		EventIDs []string `json:"event_ids"`
		Attempts int      `json:"attempts"`
	}
	if err := json.Unmarshal(report.Details, &details); err != nil {
		t.Fatalf("details %s: %v", report.Details, err)
	}
	if details.EventID != want[0] || details.Events != 5 || !slices.Equal(details.EventIDs, want) || details.Attempts < 2 {
		t.Errorf("details = %+v, want event_id %s, events 5, event_ids %v, attempts > 1", details, want[0], want)
	}
	if !strings.Contains(report.Message, "batch of 5 events") {
		t.Errorf("message %q", report.Message)
	}
	if got := h.count("event_log", "failed"); got != 5 {
		t.Errorf("failed = %v, want 5", got)
	}
}
