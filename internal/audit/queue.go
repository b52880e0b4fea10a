package audit

import (
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// lingerBatch is the batch size at which the writer stops lingering.
const lingerBatch = 256

// batch is queued lines, back to back, and per line where it ends and
// which events_total counter it belongs to.
type batch struct {
	buf   []byte
	lines []lineMeta
	// forced counts the lines queued past the bound (the writer's own
	// records): they take no client's slot, or a writer that records
	// something at every batch (the live file deleted again and again)
	// would keep a small queue full of its own lines and starve every
	// request.
	forced int
	// upto is the ticket of the batch's last line.
	upto uint64
}

type lineMeta struct {
	end   int
	label uint8
	// slot is the line's place in id order, stamped with its time (unix
	// ms << 12 | a counter): a line without an id gets the id of its
	// slot, and a checkpoint cut in before it the odd one just below
	// (idSlot).
	slot uint64
}

// queue is the bounded queue between Emit and the writer goroutine, with
// its group commit: the writer takes everything queued at once, as one
// batch, and gives the batch back for reuse once it is written.
//
// Invariants, all under mu:
//   - every line is stamped as it is queued, never earlier than the line
//     before it (last), so the file is in eventTime order even when the
//     clock steps back; and with a slot after the one before it, from
//     which the lines without an id get theirs, so that the writer's ids
//     rise with eventTime in file order;
//   - at most bound client lines wait; forced lines (the writer's own
//     records) pass the bound and do not count against it;
//   - once closed, only forced lines are queued, and take hands out what
//     is left (and the drops not yet reported) before it reports done.
type queue struct {
	bound  int
	drop   bool // when_full: drop instead of waiting
	linger time.Duration
	now    func() time.Time
	// refusing reports that the disk refuses writes right now: a full
	// queue then drops rather than stall requests (on_write_error).
	refusing func() bool

	mu       sync.Mutex
	notFull  *sync.Cond // clients wait here while the queue is full
	notEmpty *sync.Cond // the writer goroutine waits here for work
	pending  batch      // queued, not yet taken
	spare    batch      // the batch the writer gave back; empty while it holds one
	last     time.Time  // stamped on the last line queued
	tickets  uint64     // lines queued so far: the last line's ticket
	slot     uint64     // the last line's slot (lineMeta.slot)
	closed   bool
	drops    dropTally
}

func newQueue(bound int, drop bool, linger time.Duration, now func() time.Time, refusing func() bool, drops dropTally) *queue {
	q := &queue{bound: bound, drop: drop, linger: linger, now: now, refusing: refusing, drops: drops}
	q.notFull = sync.NewCond(&q.mu)
	q.notEmpty = sync.NewCond(&q.mu)
	return q
}

// startAfter makes every line stamped later than t, the newest line of an
// earlier run, and its id later than any that run can have made: the ids
// of t's millisecond, and of the next one, which ids carry into when more
// than 2048 lines share a millisecond. Called before the first push.
func (q *queue) startAfter(t time.Time) {
	if t.IsZero() {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.last = t.Truncate(time.Microsecond)
	q.slot = uint64(t.UnixMilli()+2)<<12 - 2
}

// push queues line, one encoded event whose time it stamps (and, with
// makeID, its id, from its slot), with its events_total label, and
// returns the time stamped and the line's ticket (its place in the queue:
// Writer.progress). When the queue is full
// a client's line waits, or with when_full: drop (and always while the
// disk refuses writes) is dropped: ErrDropped. A forced line never waits.
// After close only forced lines are queued: ErrClosed.
func (q *queue) push(line []byte, label uint8, force, makeID bool) (time.Time, uint64, error) {
	q.mu.Lock()
	for !force && !q.closed && len(q.pending.lines)-q.pending.forced >= q.bound {
		if refusing := q.refusing(); q.drop || refusing {
			reason := dropFull
			if refusing {
				reason = dropWriteError
			}
			q.noteDropLocked(reason)
			q.mu.Unlock()
			q.drops.counters[reason].Inc()
			return time.Time{}, 0, ErrDropped
		}
		q.notFull.Wait()
	}
	if q.closed && !force {
		q.mu.Unlock()
		return time.Time{}, 0, ErrClosed
	}
	t, slot := q.stampLocked()
	event.StampTime(line, t)
	if makeID {
		event.StampID(line, slot)
	}
	q.pending.buf = append(q.pending.buf, line...)
	q.pending.lines = append(q.pending.lines, lineMeta{end: len(q.pending.buf), label: label, slot: slot})
	if force {
		q.pending.forced++
	}
	q.tickets++
	ticket := q.tickets
	q.pending.upto = ticket
	q.notEmpty.Signal()
	q.mu.Unlock()
	return t, ticket, nil
}

// stamp is a time and slot after every line queued, as the next line's
// would be: the final checkpoint's.
func (q *queue) stamp() (time.Time, uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stampLocked()
}

func (q *queue) stampLocked() (time.Time, uint64) {
	// eventTime is written to the microsecond. Each line's is strictly
	// after the previous one's (a tie, or a clock stepping back, moves it
	// on by 1 µs), so (eventTime) alone orders a dir's lines and a reader
	// resuming "after eventTime T" (the shipper, after a delete) is exact.
	t := q.now().Truncate(time.Microsecond)
	if !t.After(q.last) && !q.last.IsZero() {
		t = q.last.Add(time.Microsecond)
	}
	q.last = t
	// Slots go by two: the odd one below a line's is for a checkpoint
	// the writer may cut in before it. More than 2048 lines in one
	// millisecond carry into the next: the order holds, the id runs up
	// to a millisecond ahead of eventTime.
	slot := uint64(t.UnixMilli()) << 12
	if slot <= q.slot {
		slot = q.slot + 2
	}
	q.slot = slot
	return t, slot
}

// idSlot is the slot of the id of a checkpoint written just before a line
// of slot: after every line before it, before it and every line after.
func idSlot(slot uint64) uint64 { return slot - 1 }

// take waits for work. It returns drops to report (dropped, non-zero)
// when a report falls due, else done once the queue is closed and empty,
// else a batch of everything queued: when the batch is small it first
// lingers for more lines to join it. The writer gives the batch back with
// recycle once it is written.
func (q *queue) take() (b batch, dropped [2]int64, done bool) {
	q.mu.Lock()
	for len(q.pending.lines) == 0 && !q.closed && !q.dropReportDueLocked() {
		q.notEmpty.Wait()
	}
	if q.dropReportDueLocked() { // before the closed check: the last drops are reported too
		dropped = q.takeDropsLocked()
		q.mu.Unlock()
		return batch{}, dropped, false
	}
	if len(q.pending.lines) == 0 && q.closed {
		q.mu.Unlock()
		return batch{}, dropped, true
	}
	if q.linger > 0 && !q.closed && len(q.pending.lines) < lingerBatch {
		q.mu.Unlock()
		time.Sleep(q.linger)
		q.mu.Lock()
	}
	b = q.pending
	q.pending, q.spare = q.spare, batch{}
	q.pending.buf, q.pending.lines, q.pending.forced = q.pending.buf[:0], q.pending.lines[:0], 0
	q.notFull.Broadcast()
	q.mu.Unlock()
	return b, dropped, false
}

// recycle gives back the batch take returned, once written, so that its
// buffers are reused.
func (q *queue) recycle(b batch) {
	q.mu.Lock()
	q.spare = b
	q.mu.Unlock()
}

// close stops taking client lines and wakes everyone: waiting clients
// get ErrClosed, the writer drains what is queued.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		q.notFull.Broadcast()
		q.notEmpty.Broadcast()
	}
}

// len is the number of lines waiting to be taken.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending.lines)
}
