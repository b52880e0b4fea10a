package webhook

import (
	"bytes"
	"context"
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
			d.abandon()
			continue
		}
		d.deliver(line)
	}
}

// deliver sends one event, retrying until it is delivered, retry_for has
// passed since the first attempt, or Close cuts it short.
func (d *Dispatcher) deliver(line []byte) {
	body := requestBody(line)
	giveUpAt := time.Now().Add(d.retryFor)
	for attempt := 1; ; attempt++ {
		err := d.post(body)
		if err == nil {
			d.delivered.Inc()
			return
		}
		if d.ctx.Err() != nil {
			d.abandon()
			return
		}
		wait := d.backoff(attempt)
		if time.Now().Add(wait).After(giveUpAt) {
			d.giveUp(line, attempt, err)
			return
		}
		if d.log.Enabled(d.ctx, slog.LevelDebug) {
			d.log.Debug("webhook delivery failed, will retry", "event_id", eventID(line),
				"attempt", attempt, "wait", wait, "err", err)
		}
		if !d.sleep(wait) {
			d.abandon()
			return
		}
		d.retried.Inc()
	}
}

// requestBody wraps the encoded event, spliced as is, in the notification.
func requestBody(line []byte) []byte {
	const prefix = `{"notification_type":"` + NotificationType + `","event":`
	line = bytes.TrimSuffix(line, []byte("\n"))
	body := make([]byte, 0, len(prefix)+len(line)+1)
	body = append(body, prefix...)
	body = append(body, line...)
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

// giveUp counts, logs and reports a delivery that ran out of retry_for.
func (d *Dispatcher) giveUp(line []byte, attempts int, lastErr error) {
	d.failed.Inc()
	id := eventID(line)
	d.log.Warn("webhook delivery given up", "event_id", id, "attempts", attempts, "err", lastErr)
	if d.report == nil {
		return
	}
	details := (&event.Details{}).String("endpoint", d.endpoint).String("url", d.cleanURL).
		String("event_id", id).Int("attempts", int64(attempts)).String("last_error", lastErr.Error()).Object()
	d.report(event.NewSystem(TypeDeliveryFailed, event.LevelError,
		fmt.Sprintf("webhook delivery to %s given up after %d attempts: %v", d.endpoint, attempts, lastErr), details))
}

// abandon counts a delivery cut short by Close as dropped. It is not
// reported (the caller is shutting down); Close logs how many there were.
func (d *Dispatcher) abandon() {
	d.dropped.Inc()
	d.abandoned.Add(1)
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
