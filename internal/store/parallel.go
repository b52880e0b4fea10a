package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/trailcar/trailcar/internal/event"
)

// A walk of everything (Each without a cursor) is split into chunks of
// whole lines that several goroutines filter at once; their results are
// handed out in order. Memory stays bounded: a fixed set of chunks
// circulates (read, filtered, handed out, reused), chunkQueue more than
// there are workers.
const (
	chunkSize  = 256 << 10
	chunkQueue = 2
)

// chunk is a run of whole lines of one file, and what filtering it gave.
type chunk struct {
	seq  int
	data []byte // the lines, each ending with '\n'
	// Results: matching lines back to back (newest first, each ending
	// with '\n'), lines that do not decode, and whether a line older than
	// since was reached (the walk ends with this chunk).
	out     []byte
	invalid int
	done    bool
	err     error
}

// eachParallel is Each without a cursor, on all cores.
func (st *Store) eachParallel(ctx context.Context, sn *Snapshot, f *event.Filter, fn func([]byte) error) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newWalker(sn, f, nil, nil)
	workers := runtime.GOMAXPROCS(0)
	todo := make(chan *chunk, chunkQueue)
	results := make(chan *chunk, chunkQueue)
	free := make(chan *chunk, workers+2*chunkQueue+1)
	for range cap(free) {
		free <- &chunk{}
	}
	var stats, read Stats // read: the reader's, merged once it is done
	var readErr error
	go func() {
		defer close(todo)
		readErr = w.chunks(ctx, todo, free, &read)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw := newWalker(sn, f, nil, nil)
			for c := range todo {
				if ctx.Err() == nil { // else the results are not wanted
					fw.filterChunk(c)
				}
				results <- c
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	err := emitInOrder(results, free, &stats, fn)
	cancel()
	for range results { // let the workers and the reader finish
	}
	stats.Files, stats.Invalid = read.Files, stats.Invalid+read.Invalid
	if err == nil && readErr != nil && !errors.Is(readErr, context.Canceled) {
		err = readErr
	}
	if err == nil {
		err = ctx.Err()
		if errors.Is(err, context.Canceled) {
			err = nil // canceled by us at the end
		}
	}
	return stats, err
}

// emitInOrder hands the chunks' results to fn in chunk order.
func emitInOrder(results <-chan *chunk, free chan<- *chunk, stats *Stats, fn func([]byte) error) error {
	waiting := map[int]*chunk{}
	next := 0
	for c := range results {
		waiting[c.seq] = c
		for c, ok := waiting[next]; ok; c, ok = waiting[next] {
			delete(waiting, next)
			next++
			stats.Invalid += c.invalid
			if c.err != nil {
				return c.err
			}
			for rest := c.out; len(rest) > 0; {
				i := bytes.IndexByte(rest, '\n')
				if err := fn(rest[:i]); err != nil {
					return err
				}
				rest = rest[i+1:]
			}
			done := c.done
			free <- c
			if done {
				return nil
			}
		}
	}
	return nil
}

// chunks reads every file the walk needs, newest first, backwards, as
// chunks of whole lines.
func (w *walker) chunks(ctx context.Context, todo chan<- *chunk, free <-chan *chunk, stats *Stats) error {
	seq := 0
	for _, src := range w.sn.srcs {
		ra, end, ok, err := w.span(src)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		stats.Files++
		overlong, err := readChunks(ctx, ra, end, func(data []byte) error {
			var c *chunk
			select {
			case c = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			*c = chunk{seq: seq, data: append(c.data[:0], data...), out: c.out[:0]}
			seq++
			select {
			case todo <- c:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		stats.Invalid += overlong
		src.release()
		if err != nil {
			return err
		}
	}
	return nil
}

// readChunks reads r backwards from end in chunks of whole lines and
// hands each to send (which copies it). Bytes after the last '\n' are no
// line; a line longer than maxLineLen is dropped and counted.
func readChunks(ctx context.Context, r io.ReaderAt, end int64, send func([]byte) error) (overlong int, err error) {
	var buf, carry []byte // carry: the end of a line that starts before pos
	pos := end
	tail := true // dropping bytes up to the previous '\n'
	for pos > 0 {
		if err := ctx.Err(); err != nil {
			return overlong, err
		}
		n := int(min(int64(chunkSize), pos))
		pos -= int64(n)
		if cap(buf) < n+len(carry) {
			buf = make([]byte, 0, n+len(carry)+4096)
		}
		buf = buf[:n]
		if _, err := r.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return overlong, fmt.Errorf("read audit file: %w", err)
		}
		if tail {
			i := bytes.LastIndexByte(buf, '\n')
			if i < 0 {
				continue
			}
			buf, tail = buf[:i+1], false
		}
		buf = append(buf, carry...)
		if pos == 0 {
			return overlong, send(buf)
		}
		first := bytes.IndexByte(buf, '\n')
		if first < 0 {
			carry = append(carry[:0], buf...) // all inside one line
		} else {
			if first+1 < len(buf) {
				if err := send(buf[first+1:]); err != nil {
					return overlong, err
				}
			}
			carry = append(carry[:0], buf[:first+1]...)
		}
		if len(carry) > maxLineLen {
			overlong++
			carry, tail = carry[:0], true
		}
	}
	return overlong, nil
}

// filterChunk judges the chunk's lines, newest first.
func (w *walker) filterChunk(c *chunk) {
	data := c.data
	w.ends = w.ends[:0]
	ends := w.ends
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		ends = append(ends, i+j)
		i += j + 1
	}
	w.ends = ends
	w.emit = func(l []byte, _ mark) error {
		c.out = append(c.out, l...)
		c.out = append(c.out, '\n')
		return nil
	}
	for k := len(ends) - 1; k >= 0; k-- {
		start := 0
		if k > 0 {
			start = ends[k-1] + 1
		}
		line := data[start:ends[k]]
		if err := w.line(line); err != nil {
			if errors.Is(err, errStop) {
				c.done = true
			} else {
				c.err = err
			}
			break
		}
	}
	c.invalid = w.stats.Invalid
	w.stats.Invalid = 0
}
