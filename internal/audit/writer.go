// Package audit is the path from an event to the audit file: a bounded
// queue that stamps each event's time as it is queued (so lines are in
// eventTime order), and one goroutine that writes everything queued with one
// write per batch (group commit), then hands the written lines to
// the publisher (webhooks) and wakes the followers of the files.
//
// Guarantees: an event accepted by Emit is written exactly once, whole, in
// queue order, unless the process dies; a write error never crashes
// anything: the batch is kept and retried until the disk takes it.
//
// Each concern has its own file and type, so that it reads alone:
//
//	queue.go     the bound, when_full (block or drop) and group commit
//	drops.go     counting drops and recording system.audit.dropped
//	commit.go    batches into writes (the chunker), and what was written
//	seal.go      chaining and checkpoints (integrity), in front of the chunker
//	rotation.go  the hand-off to the rotating file
//	giveup.go    a disk that refuses writes: retries, health, Close giving up
//	subscribe.go publishing what was written, waking followers
//	reopen.go    the live file moved away, or SIGHUP: seal, reopen, record
//	aside.go     a delete's rotation: seal, rotate aside
//	wait.go      waiting for a line to be written (EmitWritten, Reopen)
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
)

// File is where lines go: the rotating audit file. Write gets whole lines
// and, on error, must leave nothing of them behind.
type File interface {
	Write(p []byte) (int, error)
	// MaxWrite is the largest write accepted.
	MaxWrite() int
}

// Options configure a Writer.
type Options struct {
	// File receives the lines. If nil, events are not persisted, only
	// published (the activity tracker is disabled).
	File File
	// Publish, if set, is called from the writer's goroutine with each
	// line written, newline included, in order. It must not block (the
	// webhook dispatcher queues, or drops and counts); the line is its to
	// keep and must not be modified.
	Publish func(line []byte)
	// Stdout, if set, gets every line the file gets, byte for byte and in
	// file order, checkpoints included, once they are written
	// (activity_tracker.stdout: for kubectl logs and node agents). It is
	// written from the writer's goroutine: a reader that stops reading
	// holds the writer, as the file would.
	Stdout io.Writer
	// Queue is how many events may wait to be written; 0 means 10000.
	Queue int
	// Drop, when the queue is full, drops the event (counted) instead of
	// making Emit wait.
	Drop bool
	// Service and Host are stamped on events that have none.
	Service, Host string
	// Metrics is required.
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After is the eventTime of the newest line already in the dir (zero
	// when there is none): every line written gets a later eventTime and
	// a later id, so a clock that stepped back across a restart does not
	// break the dir's eventTime order (docs/guarantees.md "One event per
	// tracked request, never torn").
	After time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// RetryMin and RetryMax bound the wait between attempts to write a
	// batch the disk refused; 0 means 50ms and 1s.
	RetryMin, RetryMax time.Duration
	// Seal, if set, chains every line written and writes checkpoints
	// (docs/integrity.md "How"): every CheckpointEvery after a line, as the
	// last line of a file before it rotates (File must then be a
	// *rotate.File), and at Close. Without a File there is nothing to
	// seal, and Seal is not used.
	Seal            *integrity.Sealer
	CheckpointEvery time.Duration // 0 means 60s
	// Linger is how long the writer waits, after the first event of a
	// batch arrives, for more to join it (group commit): fewer, larger
	// writes under load, at the cost of events reaching the file (and
	// webhooks) up to Linger later. 0 means 1ms; negative means none.
	Linger time.Duration
}

// Errors returned by Emit.
var (
	ErrDropped = errors.New("audit queue full: event dropped")
	ErrClosed  = errors.New("audit writer closed")
)

// Writer queues and writes events. Its methods are safe for concurrent use.
//
// Emit encodes an event and pushes it on the queue; one goroutine (run)
// takes batches off the queue, hands each to the sink, then publishes and
// counts the record of what reached the file. The sink and the record
// belong to that goroutine alone; the others see the file's health and
// the queue only.
type Writer struct {
	origin  origin
	log     *slog.Logger
	counts  eventCounters
	encoded sync.Pool // *[]byte encode buffers

	queue *queue
	file  *retryingFile // nil without a File
	sink  batchSink
	seal  *sealer // nil without integrity
	rec   record  // what the last batch put in the file

	reopen   *reopening      // nil when the file cannot be reopened
	aside    *asideRotations // nil when the file cannot rotate for a delete
	progress progress        // the lines done with: EmitWritten, Reopen

	publishTo func(line []byte)
	stdout    io.Writer
	outBuf    []byte // a batch's lines for stdout, reused
	outErr    bool   // the last write to stdout failed (logged once)
	writtenMu sync.Mutex
	written   chan struct{} // closed at the next write; see Written

	done chan struct{}
}

// origin stamps the events that have none with a service and host (ids
// are stamped with the time: queue.push).
type origin struct {
	service, host string
}

// unstampedID holds an id's place in an encoded line until the queue
// stamps the line's own.
const unstampedID = "00000000000000000000000000000000"

func (o origin) fill(e *event.Event) {
	if e.Service == "" {
		e.Service = o.service
	}
	if e.Host == "" {
		e.Host = o.host
	}
}

// New starts a Writer.
func New(opts Options) *Writer {
	opts = withDefaults(opts)
	w := &Writer{
		origin:    origin{service: opts.Service, host: opts.Host},
		log:       opts.Logger,
		counts:    newEventCounters(opts.Metrics.Events),
		publishTo: opts.Publish,
		stdout:    opts.Stdout,
		done:      make(chan struct{}),
	}
	w.encoded.New = func() any { b := make([]byte, 0, 1024); return &b }
	refusing := func() bool { return false }
	w.sink = noFile{rec: &w.rec}
	if r, ok := opts.File.(reopener); ok {
		w.reopen = &reopening{file: r, origin: w.origin, log: opts.Logger}
	}
	if a, ok := opts.File.(asideRotator); ok {
		w.aside = &asideRotations{file: a, log: opts.Logger, errs: map[string]error{}}
	}
	if opts.File != nil {
		w.file = &retryingFile{file: opts.File, retryMin: opts.RetryMin, retryMax: opts.RetryMax,
			m: opts.Metrics, log: opts.Logger, report: w.reportWrite}
		refusing = w.file.refusing
		w.sink = w.fileSink(opts)
	}
	w.queue = newQueue(opts.Queue, opts.Drop, opts.Linger, opts.Now, refusing, newDropTally(opts.Metrics))
	w.queue.startAfter(opts.After)
	// Last: the file may report a replacement at once, from its own
	// goroutine, and the record needs the queue.
	w.watchReplacement(opts.File)
	w.watchMoves(w.reopen)
	opts.Metrics.GaugeFunc("audit_queue_length", "Events waiting to be written to the audit log.",
		func() float64 { return float64(w.QueueLen()) })
	opts.Metrics.GaugeFunc("audit_queue_capacity", "Events the audit queue holds before when_full applies (activity_tracker.queue).",
		func() float64 { return float64(opts.Queue) })
	go w.run()
	return w
}

func withDefaults(opts Options) Options {
	if opts.Queue <= 0 {
		opts.Queue = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 50 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Second
	}
	if opts.Linger == 0 {
		opts.Linger = time.Millisecond
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = time.Minute
	}
	return opts
}

// fileSink is the chunker writing to the file, with the sealer in front
// of it when the log is sealed.
func (w *Writer) fileSink(opts Options) batchSink {
	chunks := &chunker{file: w.file, limit: min(maxChunk, opts.File.MaxWrite()), rec: &w.rec, reopen: w.reopen, aside: w.aside}
	if opts.Seal == nil {
		return chunks
	}
	s := &sealer{chain: opts.Seal, chunks: chunks, origin: w.origin, every: opts.CheckpointEvery,
		m: opts.Metrics, log: opts.Logger}
	if r, ok := opts.File.(Rotator); ok {
		s.rotation = handOff{file: r, log: opts.Logger}
	}
	s.reopen = w.reopen
	s.aside = w.aside
	s.queuePlaceholder = func() error {
		placeholder := &event.Event{Type: integrity.CheckpointType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
		_, err := w.emitLabeled(placeholder, true, labelCheckpoint)
		return err
	}
	w.seal = s
	return s
}

// Healthy reports whether the last write to the audit file succeeded.
func (w *Writer) Healthy() bool { return w.file == nil || w.file.healthy() }

// QueueLen is the number of events waiting to be written.
func (w *Writer) QueueLen() int { return w.queue.len() }

// Emit queues e. It sets e.ID (when empty: the id of the moment it is
// queued, after the previous such id), e.Service and e.Host (when empty)
// and e.Time (always: the moment it is queued, never before the previous
// event's). When the queue is full it waits, or with Drop (and
// always while the disk refuses writes, so a full disk cannot stall
// requests) drops e and returns ErrDropped. Emit does not keep e.
func (w *Writer) Emit(e *event.Event) error {
	_, err := w.emitLabeled(e, false, noLabel)
	return err
}

// emitSystem queues a system event even when the queue is full: it comes
// from the writer itself (which must never wait on itself) or reports
// trouble that must not be lost to it.
func (w *Writer) emitSystem(typ, level, message string, details []byte) {
	if _, err := w.emitLabeled(event.NewSystem(typ, level, message, details), true, noLabel); err != nil && !errors.Is(err, ErrClosed) {
		w.log.Error("queue system event", "type", typ, "err", err)
	}
}

// reportWrite records the disk refusing writes, or taking them again.
func (w *Writer) reportWrite(typ, level, message string) { w.emitSystem(typ, level, message, nil) }

// emitLabeled encodes e and queues it, forced past the bound or not, with
// label, or the label of its counters when label is noLabel. It returns
// the line's ticket (progress).
func (w *Writer) emitLabeled(e *event.Event, force bool, label uint8) (uint64, error) {
	w.origin.fill(e)
	makeID := e.ID == ""
	if makeID {
		e.ID = unstampedID
	}
	bp := w.encoded.Get().(*[]byte)
	defer w.encoded.Put(bp)
	line, err := event.AppendJSON((*bp)[:0], e)
	if err == nil && len(line) > maxLine {
		line = shrink(line[:0], e)
	}
	if makeID {
		e.ID = ""
	}
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	*bp = line
	if label == noLabel {
		label = eventLabel(e)
	}
	t, ticket, err := w.queue.push(line, label, force, makeID)
	if err != nil {
		return 0, err
	}
	e.Time = t
	if makeID {
		id, _ := event.LineID(line)
		e.ID = string(id)
	}
	return ticket, nil
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	for {
		b, dropped, done := w.queue.take()
		switch {
		case dropped != [2]int64{}:
			w.reportDrops(dropped)
			continue
		case done:
			w.finish()
			return
		}
		w.rec.reset()
		if n := w.sink.write(b); n < len(b.lines) {
			w.file.lose(b.lines[n:])
		}
		w.commit()
		w.progress.advance(b.upto)
		if w.seal != nil {
			w.seal.arm()
		}
		w.queue.recycle(b)
	}
}

// finish seals what the last batches left unsealed.
func (w *Writer) finish() {
	if w.seal == nil {
		return
	}
	t, slot := w.queue.stamp()
	w.rec.reset()
	w.seal.final(t, slot)
	w.commit()
}

// commit publishes and counts the record of what reached the file.
func (w *Writer) commit() {
	w.toStdout(w.rec.lines)
	w.publish(w.rec.lines)
	for _, l := range w.rec.labels {
		w.counts.inc(l)
	}
}

// Close stops taking events, writes everything queued and stops. If ctx
// ends first while the disk refuses writes, what is left is counted as lost
// and an error says how many.
func (w *Writer) Close(ctx context.Context) error {
	w.queue.close()
	select {
	case <-w.done:
	case <-ctx.Done():
		if w.file != nil {
			w.file.giveUp()
		}
		<-w.done
	}
	if w.file != nil {
		if n := w.file.lost.Load(); n > 0 {
			return fmt.Errorf("close audit writer: %d events could not be written", n)
		}
	}
	return nil
}

// toStdout writes what the last batch put in the file to Stdout, in one
// write. A failed write is logged once (until one works again) and never
// stops the file's: stdout is a copy.
func (w *Writer) toStdout(lines [][]byte) {
	if w.stdout == nil || len(lines) == 0 {
		return
	}
	w.outBuf = w.outBuf[:0]
	for _, l := range lines {
		w.outBuf = append(w.outBuf, l...)
	}
	_, err := w.stdout.Write(w.outBuf)
	if err != nil && !w.outErr {
		w.log.Warn("audit lines not written to stdout", "err", err)
	}
	w.outErr = err != nil
	if cap(w.outBuf) > 4<<20 {
		w.outBuf = nil // an odd huge batch is not kept
	}
}
