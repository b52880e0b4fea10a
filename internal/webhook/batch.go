package webhook

import "time"

// workBatches is the only delivery goroutine when batch.max_events > 1:
// one batch in flight at a time is what keeps batches in order, and a
// batch already carries up to max_events events per round trip, which the
// 4 workers of unbatched delivery are there to make up for.
func (d *Dispatcher) workBatches() {
	defer d.wg.Done()
	batch := make([][]byte, 0, d.batch.MaxEvents)
	for {
		var open bool
		batch, open = d.collect(batch[:0])
		switch {
		case len(batch) == 0:
		case d.ctx.Err() != nil:
			d.abandon(len(batch))
		default:
			d.deliver(batch, batchBody(batch))
		}
		if !open {
			return
		}
	}
}

// collect appends queued events to batch until it holds max_events, or
// max_wait has passed since its first event, or the queue is closed
// (open false: Close sends what is left at once rather than waiting).
// Events that queued while the previous batch was retried are taken at
// once, up to max_events.
func (d *Dispatcher) collect(batch [][]byte) (_ [][]byte, open bool) {
	first, ok := <-d.queue
	if !ok {
		return batch, false
	}
	batch = append(batch, first)
	timer := time.NewTimer(d.batch.MaxWait)
	defer timer.Stop()
	for len(batch) < d.batch.MaxEvents {
		select {
		case line, ok := <-d.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, line)
		case <-timer.C:
			return batch, true
		}
	}
	return batch, true
}

// batchBody is the body of a batched POST: a JSON array of the events'
// notifications, in queue order, even when it holds one.
func batchBody(lines [][]byte) []byte {
	size := 2
	for _, line := range lines {
		size += len(envelopePrefix) + len(line) + 1
	}
	body := append(make([]byte, 0, size), '[')
	for i, line := range lines {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendEnvelope(body, line)
	}
	return append(body, ']')
}
