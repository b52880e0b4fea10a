package audit

import (
	"context"
	"sync"

	"github.com/trailcar/trailcar/internal/event"
)

// progress is how far the writer got: every line queued gets a ticket
// (its place in the queue, from 1), and upto is the ticket of the last
// line the writer is done with (written, or given up on by Close). A
// caller that must see its line in the file (a reopen, an answer that
// recorded something) waits for its ticket.
type progress struct {
	mu   sync.Mutex
	upto uint64
	wake chan struct{} // closed when upto grows; made only when someone waits
}

func (p *progress) advance(to uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if to <= p.upto {
		return
	}
	p.upto = to
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

// wait returns once the line of ticket is done with, done is closed (the
// writer stopped), or ctx ends.
func (p *progress) wait(ctx context.Context, ticket uint64, done <-chan struct{}) error {
	for {
		p.mu.Lock()
		if p.upto >= ticket {
			p.mu.Unlock()
			return nil
		}
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// EmitWritten is Emit, then waits until e's line is in the file (or,
// without a file, published), or ctx ends: an answer that recorded
// something can then be read back. The wait is ctx's to bound; the line
// is queued either way.
func (w *Writer) EmitWritten(ctx context.Context, e *event.Event) error {
	ticket, err := w.emitLabeled(e, false, noLabel)
	if err != nil {
		return err
	}
	return w.progress.wait(ctx, ticket, w.done)
}

// Reopen makes the writer seal the live file, open its path again and
// record system.audit.reopened (SIGHUP; docs/integrity.md "Outside
// rotation"), and waits until that is done or ctx ends.
func (w *Writer) Reopen(ctx context.Context) error {
	if w.reopen == nil {
		return nil
	}
	ticket, err := w.emitLabeled(reopenPlaceholder(), true, labelReopen)
	if err != nil {
		return err
	}
	return w.progress.wait(ctx, ticket, w.done)
}
