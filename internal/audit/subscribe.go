package audit

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

// publish hands the lines written to Options.Publish, and wakes the
// followers. The lines are copied once, since the batch is reused.
func (w *Writer) publish(lines [][]byte) {
	if len(lines) == 0 {
		return
	}
	w.writtenMu.Lock()
	if w.written != nil {
		close(w.written)
		w.written = nil
	}
	w.writtenMu.Unlock()
	if w.publishTo == nil {
		return
	}
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	data := make([]byte, 0, size)
	for _, l := range lines {
		start := len(data)
		data = append(data, l...)
		w.publishTo(data[start:len(data):len(data)])
	}
}
