package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/trailcar/trailcar/internal/event"
)

// seekWindow is where a binary search by time stops narrowing: the lines
// left between its bounds are read one by one.
const seekWindow = 64 << 10

// seekProbe is how much is read at each step of the search: enough for a
// line's start, with its eventTime, after the probe point.
const seekProbe = 4 << 10

// seekTime searches r (size bytes of lines in time order) for where
// eventTimes become "above": it returns line starts lo <= hi such that
// every line starting before lo is not above and every line starting at
// or after hi is. above must be monotone in time. Lines it cannot read the
// time of end the search early, leaving lo and hi further apart.
func seekTime(r io.ReaderAt, size int64, above func(t []byte) bool) (lo, hi int64, err error) {
	hi = size
	probe := make([]byte, seekProbe)
	for hi-lo > seekWindow {
		mid := lo + (hi-lo)/2
		start, t, ok, err := lineAfter(r, mid, hi, probe)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
		if above(t) {
			hi = start
		} else {
			lo = start
		}
	}
	return lo, hi, nil
}

// lineAfter finds the first line starting after off-1 and before limit,
// and its eventTime.
func lineAfter(r io.ReaderAt, off, limit int64, probe []byte) (start int64, t []byte, ok bool, err error) {
	n, err := r.ReadAt(probe, off-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, false, fmt.Errorf("read audit file: %w", err)
	}
	chunk := probe[:n]
	i := bytes.IndexByte(chunk, '\n')
	if i < 0 {
		return 0, nil, false, nil
	}
	start = off + int64(i)
	if start >= limit {
		return 0, nil, false, nil
	}
	rest := chunk[i+1:]
	if len(rest) < event.TimeOffset+event.TimeLen+1 && int64(n) == int64(len(probe)) {
		// The line starts too near the probe's end: read its start.
		m, err := r.ReadAt(probe[:event.TimeOffset+event.TimeLen+1], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, nil, false, fmt.Errorf("read audit file: %w", err)
		}
		rest = probe[:m]
	}
	t, ok = event.LineTime(rest)
	return start, t, ok, nil
}

// firstTime returns the eventTime of the file's first line that has one,
// reading only the file's start (for gzip, decompressing only that).
func (s *source) firstTime() (string, bool) {
	if s.firstKnown {
		return s.first, s.first != ""
	}
	s.firstKnown = true
	var head []byte
	if s.info.Compressed {
		line, err := firstGzipLine(io.NewSectionReader(s.file, 0, s.size))
		if err != nil {
			return "", false
		}
		head = line
	} else {
		head = make([]byte, min(s.size, seekProbe))
		n, err := s.file.ReadAt(head, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false
		}
		head = head[:n]
	}
	if t, ok := event.LineTime(head); ok {
		s.first = string(t)
		return s.first, true
	}
	// Not in the encoder's layout (or torn): decode it if it is whole.
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	var e event.Event
	if event.Decode(head, &e) == nil {
		s.first = event.FormatTime(e.Time)
	}
	return s.first, s.first != ""
}
