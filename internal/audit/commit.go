package audit

// batchSink puts the batches the queue hands out into the file: the
// writer's one backend. The chunker is the plain one; with integrity on,
// the sealer stands in front of it (seal.go), and without a file, noFile
// stands in for it. The writer goroutine alone calls it, one batch at a
// time, between resetting and publishing the record.
type batchSink interface {
	// write puts the lines of b into the file, in queue order, each whole
	// and at most once, with what else belongs there (checkpoints), and
	// appends all it wrote to the record, in file order. It returns n:
	// b.lines[:n] are done with (written, or for a checkpoint placeholder,
	// acted on), b.lines[n:] did not reach the file. n < len(b.lines) only
	// when Close gave up on a disk that refuses writes.
	write(b batch) (n int)
}

var (
	_ batchSink = (*chunker)(nil)
	_ batchSink = (*sealer)(nil)
	_ batchSink = noFile{}
)

// maxChunk bounds one write syscall.
const maxChunk = 1 << 20

// record is what the last batch put in the file, in order: its lines and
// the checkpoints among them, with their events_total labels. The writer
// resets it before each batch, then publishes and counts it.
type record struct {
	lines  [][]byte
	labels []uint8
}

func (r *record) reset() { r.lines, r.labels = r.lines[:0], r.labels[:0] }

func (r *record) add(line []byte, label uint8) {
	r.lines, r.labels = append(r.lines, line), append(r.labels, label)
}

// chunker gathers consecutive lines into as few writes as the limit
// allows (one a batch, unless the batch is larger than maxChunk or than
// the file takes at once), written through the retrying file.
//
// Invariants: the chunk is one slice of a batch's buffer (its lines lie
// back to back there), and every line gathered since the last flush is in
// it; a line goes to the record only once the write that holds it
// succeeded.
type chunker struct {
	file   *retryingFile
	limit  int
	rec    *record
	reopen *reopening      // nil: placeholders of reopens are passed over
	aside  *asideRotations // nil: no delete asks for a rotation

	chunk  []byte   // gathered, not yet written
	lines  [][]byte // the chunk's lines
	labels []uint8
}

// write is the batchSink of a file without integrity.
func (c *chunker) write(b batch) int {
	c.reset()
	start := 0
	for i, l := range b.lines {
		line := b.buf[start:l.end]
		if l.label == labelAside {
			if !c.flush() {
				return c.first(i)
			}
			if c.aside != nil {
				c.aside.rotate(line)
			}
			start = l.end
			continue
		}
		if isReopen(l.label) {
			if c.reopen.due(l.label) {
				if !c.flush() {
					return c.first(i)
				}
				if rec := c.reopen.record(line, nil); rec != nil && !c.writeAlone(rec, reopenedLabel()) {
					return c.first(i)
				}
			}
			start = l.end
			continue
		}
		if !c.add(line, l.label) {
			return c.first(i)
		}
		start = l.end
	}
	if !c.flush() {
		return c.first(len(b.lines))
	}
	return len(b.lines)
}

// reset forgets what a batch given up on left gathered: it is lost, and
// its buffer is about to be reused.
func (c *chunker) reset() { c.chunk, c.lines, c.labels = nil, c.lines[:0], c.labels[:0] }

// buffered is how many bytes are gathered and not yet written.
func (c *chunker) buffered() int { return len(c.chunk) }

// first is the index in the batch of the chunk's first line, i being the
// index of the line after the chunk: where the lines not written start.
func (c *chunker) first(i int) int { return i - len(c.lines) }

// add gathers line, a slice of the batch's buffer, writing the chunk first
// if the line would take it past the limit or does not continue it (it
// follows a placeholder, which is never written). false: Close gave up,
// and line is not gathered.
func (c *chunker) add(line []byte, label uint8) bool {
	if len(c.chunk) > 0 && (len(c.chunk)+len(line) > c.limit || !adjoins(c.chunk, line)) {
		if !c.flush() {
			return false
		}
	}
	if len(c.chunk) == 0 {
		c.chunk = line
	} else {
		c.chunk = c.chunk[:len(c.chunk)+len(line)]
	}
	c.lines, c.labels = append(c.lines, line), append(c.labels, label)
	return true
}

// adjoins reports whether next starts where chunk ends, in the same
// buffer, so that the chunk may grow over it.
func adjoins(chunk, next []byte) bool {
	return len(chunk) < cap(chunk) && len(next) > 0 && &chunk[:len(chunk)+1][len(chunk)] == &next[0]
}

// flush writes the chunk; false: Close gave up, and the chunk is still
// gathered (lost).
func (c *chunker) flush() bool {
	if len(c.chunk) == 0 {
		return true
	}
	if !c.file.write(c.chunk) {
		return false
	}
	for i, line := range c.lines {
		c.rec.add(line, c.labels[i])
	}
	c.chunk, c.lines, c.labels = nil, c.lines[:0], c.labels[:0]
	return true
}

// writeAlone writes line, which is not the batch's (a checkpoint), after
// what is gathered and in a write of its own; false: Close gave up.
func (c *chunker) writeAlone(line []byte, label uint8) bool {
	if !c.flush() || !c.file.write(line) {
		return false
	}
	c.rec.add(line, label)
	return true
}

// noFile is the batchSink when there is no file (the activity tracker is
// disabled): every line counts as written, to be published. There is no
// integrity then, so no placeholder.
type noFile struct{ rec *record }

func (s noFile) write(b batch) int {
	start := 0
	for _, l := range b.lines {
		if !isPlaceholder(l.label) {
			s.rec.add(b.buf[start:l.end], l.label)
		}
		start = l.end
	}
	return len(b.lines)
}
