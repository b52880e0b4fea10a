package audit

import "bytes"

// Written returns a channel that is closed when the next lines have been
// written to the file: followers of the files (internal/store) wait on it
// instead of waiting for their next poll. Cheap enough for every batch: a
// channel is made only when someone asked for one.
func (w *Writer) Written() <-chan struct{} {
	w.writtenMu.Lock()
	defer w.writtenMu.Unlock()
	if w.written == nil {
		w.written = make(chan struct{})
	}
	return w.written
}

// publish hands the first n lines of b to Options.Publish, and wakes the
// followers. The lines are copied once, since b is reused.
func (w *Writer) publish(b batch, n int) {
	if n == 0 {
		return
	}
	w.writtenMu.Lock()
	if w.written != nil {
		close(w.written)
		w.written = nil
	}
	w.writtenMu.Unlock()
	if w.opts.Publish == nil {
		return
	}
	data := bytes.Clone(b.buf[:b.lines[n-1].end])
	start := 0
	for _, l := range b.lines[:n] {
		w.opts.Publish(data[start:l.end:l.end])
		start = l.end
	}
}
