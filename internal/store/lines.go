package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Block sizes: the first block read is small (the newest 100 events of a
// quiet log fit in it); later ones grow so that a long scan makes few
// calls.
const (
	firstBlock = 64 << 10
	maxBlock   = 1 << 20
)

// maxLineLen bounds one line. The writer cuts events to 256 KiB; a longer
// "line" is not an event (say, a file that lost its newlines) and is
// skipped without being held in memory.
const maxLineLen = 4 << 20

// backLines reads the lines of r before end, last line first. A line is
// the bytes before a '\n'; bytes after the last '\n' before end (a write
// in progress, or a torn tail) are not a line.
type backLines struct {
	r     io.ReaderAt
	pos   int64  // file offset of avail[0]; the bytes before it are unread
	buf   []byte // backing store of avail
	avail []byte // read, not yet returned; ends with '\n' unless empty
	nls   []int  // offsets in avail of its '\n's, ascending
	block int
	// dropping is set while reading back through bytes that belong to no
	// line: the tail after the last '\n', or an overlong line.
	dropping bool
	// Overlong counts lines skipped for being longer than maxLineLen.
	Overlong int
}

func newBackLines(r io.ReaderAt, end int64) *backLines {
	return &backLines{r: r, pos: end, block: firstBlock, dropping: true}
}

// Next returns the next line going back, and its file offset; the line is
// valid until the following call. ok is false at the start of the file.
func (b *backLines) Next() (line []byte, off int64, ok bool, err error) {
	for len(b.nls) < 2 && !(len(b.nls) == 1 && b.pos == 0) {
		if b.pos == 0 {
			return nil, 0, false, nil
		}
		if err := b.fill(); err != nil {
			return nil, 0, false, err
		}
	}
	last := b.nls[len(b.nls)-1]
	start := 0
	if len(b.nls) >= 2 {
		start = b.nls[len(b.nls)-2] + 1
	}
	line = b.avail[start:last]
	b.nls = b.nls[:len(b.nls)-1]
	b.avail = b.avail[:start]
	return line, b.pos + int64(start), true, nil
}

// fill prepends the block before pos to avail (which then holds at most
// one line, whose start is before pos).
func (b *backLines) fill() error {
	n := min(int64(b.block), b.pos)
	if b.block < maxBlock {
		b.block *= 2
	}
	head := b.avail
	if len(head) > maxLineLen {
		b.Overlong++
		head, b.dropping = nil, true
	}
	need := int(n) + len(head)
	if cap(b.buf) < need {
		nb := make([]byte, need)
		copy(nb[n:], head)
		b.buf = nb
	} else {
		b.buf = b.buf[:need]
		copy(b.buf[n:], head) // head is in buf: copy moves it up
	}
	b.pos -= n
	if _, err := b.r.ReadAt(b.buf[:n], b.pos); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read audit file: %w", err)
	}
	b.avail = b.buf
	b.nls = b.nls[:0]
	for i := 0; ; {
		j := bytes.IndexByte(b.buf[i:n], '\n')
		if j < 0 {
			break
		}
		b.nls = append(b.nls, i+j)
		i += j + 1
	}
	if len(head) > 0 {
		b.nls = append(b.nls, need-1)
	}
	if b.dropping {
		b.drop()
	}
	return nil
}

// drop cuts avail after its last '\n', dropping the bytes of no line; if
// the block has no '\n', all of it is dropped and dropping goes on.
func (b *backLines) drop() {
	if len(b.nls) == 0 {
		b.avail = b.buf[:0]
		return
	}
	b.dropping = false
	b.avail = b.buf[:b.nls[len(b.nls)-1]+1]
}

// fwdLines reads the lines of r from off (a line start) to end, first
// line first. Bytes after the last '\n' before end are not a line.
type fwdLines struct {
	r        io.ReaderAt
	pos, end int64 // next byte to read, and where to stop
	buf      []byte
	data     []byte // read, not yet returned
	dataOff  int64  // file offset of data[0]
	block    int
	// Overlong counts lines skipped for being longer than maxLineLen.
	Overlong int
	dropping bool
}

func newFwdLines(r io.ReaderAt, off, end int64) *fwdLines {
	return &fwdLines{r: r, pos: off, end: end, dataOff: off, block: firstBlock}
}

// Next returns the next line and its offset, valid until the following
// call; ok is false at end.
func (f *fwdLines) Next() (line []byte, off int64, ok bool, err error) {
	for {
		if i := bytes.IndexByte(f.data, '\n'); i >= 0 {
			line, off = f.data[:i], f.dataOff
			f.data = f.data[i+1:]
			f.dataOff += int64(i + 1)
			if f.dropping {
				f.dropping = false
				continue
			}
			return line, off, true, nil
		}
		if f.pos >= f.end {
			return nil, 0, false, nil
		}
		if err := f.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}

// fill appends the next block to the unreturned bytes.
func (f *fwdLines) fill() error {
	if len(f.data) > maxLineLen {
		f.Overlong++
		f.dropping = true
		f.dataOff += int64(len(f.data))
		f.data = f.data[len(f.data):]
	}
	n := int(min(int64(f.block), f.end-f.pos))
	if f.block < maxBlock {
		f.block *= 2
	}
	keep := len(f.data)
	if cap(f.buf) < keep+n {
		f.buf = make([]byte, 0, keep+n)
	}
	f.buf = append(f.buf[:0], f.data...) // the partial line moves to the front
	f.buf = f.buf[:keep+n]
	if _, err := f.r.ReadAt(f.buf[keep:], f.pos); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read audit file: %w", err)
	}
	f.pos += int64(n)
	f.data = f.buf
	return nil
}
