package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// Backoff schedule of docs/webhooks.md "Retries".
const (
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 5 * time.Second
	jitter       = 0.2
)

// maxDrain bounds how much of a response body is read to reuse the
// connection.
const maxDrain = 64 << 10

// work delivers queued events until the queue is closed and empty.
func (d *Dispatcher) work() {
	defer d.wg.Done()
	for line := range d.queue {
		if d.ctx.Err() != nil {
			d.abandon(1)
			continue
		}
		lines := [][]byte{line}
		d.deliver(lines, requestBody(line))
	}
}

// deliver sends body, which holds the events lines, retrying until it is
// delivered, retry_for has passed since the first attempt, or Close cuts
// it short. The counters count events, so a batch moves each by its size.
func (d *Dispatcher) deliver(lines [][]byte, body []byte) {
	n := float64(len(lines))
	giveUpAt := time.Now().Add(d.retryFor)
	for attempt := 1; ; attempt++ {
		err := d.post(body)
		if err == nil {
			d.delivered.Add(n)
			return
		}
		if d.ctx.Err() != nil {
			d.abandon(len(lines))
			return
		}
		wait := d.backoff(attempt)
		if time.Now().Add(wait).After(giveUpAt) {
			d.giveUp(lines, attempt, err)
			return
		}
		if d.log.Enabled(d.ctx, slog.LevelDebug) {
			d.log.Debug("webhook delivery failed, will retry", "event_id", eventID(lines[0]),
				"events", len(lines), "attempt", attempt, "wait", wait, "err", err)
		}
		if !d.sleep(wait) {
			d.abandon(len(lines))
			return
		}
		d.retried.Add(n)
	}
}

// envelopePrefix opens the notification an event is wrapped in.
const envelopePrefix = `{"notification_type":"` + NotificationType + `","event":`

// requestBody is the body of an unbatched POST: the notification around
// the encoded event, spliced as is.
func requestBody(line []byte) []byte {
	return appendEnvelope(make([]byte, 0, len(envelopePrefix)+len(line)+1), line)
}

// appendEnvelope appends the notification wrapping line (newline dropped).
func appendEnvelope(body, line []byte) []byte {
	body = append(body, envelopePrefix...)
	body = append(body, bytes.TrimSuffix(line, []byte("\n"))...)
	return append(body, '}')
}

// post makes one attempt. A 2xx answer is success; anything else is an
// error saying what happened.
func (d *Dispatcher) post(body []byte) error {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = d.header.Clone()
	resp, err := d.client.Do(req)
	if err == nil {
		// Read some of the body so the connection can be reused; its
		// content does not matter, nor does an error reading it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("answered %s", resp.Status)
		}
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && d.ctx.Err() == nil {
		return fmt.Errorf("no response within %s", d.timeout)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err // the url is reported on its own, without credentials
	}
	return err
}

// sleep waits for wait, or until Close cuts deliveries short (false).
func (d *Dispatcher) sleep(wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

// giveUp counts, logs and reports a delivery that ran out of retry_for:
// one report per POST given up, so a batch is reported as a whole, with
// every id it held.
func (d *Dispatcher) giveUp(lines [][]byte, attempts int, lastErr error) {
	d.failed.Add(float64(len(lines)))
	id := eventID(lines[0])
	d.log.Warn("webhook delivery given up", "event_id", id, "events", len(lines), "attempts", attempts, "err", lastErr)
	if d.report == nil {
		return
	}
	details := (&event.Details{}).String("endpoint", d.endpoint).String("url", d.cleanURL).String("event_id", id)
	message := fmt.Sprintf("webhook delivery to %s given up after %d attempts: %v", d.endpoint, attempts, lastErr)
	if d.batch.batched() {
		ids := make([]string, len(lines))
		for i, line := range lines {
			ids[i] = eventID(line)
		}
		encoded, _ := json.Marshal(ids) // strings always encode
		details = details.Int("events", int64(len(lines))).JSON("event_ids", encoded)
		message = fmt.Sprintf("webhook delivery of a batch of %d events to %s given up after %d attempts: %v",
			len(lines), d.endpoint, attempts, lastErr)
	}
	details = details.Int("attempts", int64(attempts)).String("last_error", lastErr.Error())
	d.report(event.NewSystem(TypeDeliveryFailed, event.LevelError, message, details.Object()))
}

// abandon counts n events whose delivery Close cut short as dropped. They
// are not reported (the caller is shutting down); Close logs how many
// there were.
func (d *Dispatcher) abandon(n int) {
	d.dropped.Add(float64(n))
	d.abandoned.Add(int64(n))
}

// defaultBackoff is the schedule of docs/webhooks.md "Retries": 250 ms before the first retry,
// doubling up to 5 s, each wait then spread by ±20% at random so that
// retries from many events do not arrive in step.
func defaultBackoff(retry int) time.Duration {
	return spread(baseBackoff(retry), rand.Float64())
}

// baseBackoff is the wait before retry number retry, before jitter.
func baseBackoff(retry int) time.Duration {
	wait := firstBackoff
	for i := 1; i < retry && wait < maxBackoff; i++ {
		wait *= 2
	}
	return min(wait, maxBackoff)
}

// spread moves wait by up to ±20%: r in [0, 1) maps to [0.8, 1.2) × wait.
func spread(wait time.Duration, r float64) time.Duration {
	return time.Duration(float64(wait) * (1 - jitter + 2*jitter*r))
}
