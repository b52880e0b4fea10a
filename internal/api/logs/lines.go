package logs

import (
	"bytes"
	"io"
)

// chunk is how much is read at a time when scanning a file backwards.
const chunk = 64 << 10

// completeEnd returns the offset just after the last newline before size,
// so that a line being written is never sent torn, and where that last
// complete line starts (end and start are 0 when there is none).
func completeEnd(r io.ReaderAt, size int64) (end, lastStart int64, err error) {
	found := false
	err = scanBack(r, size, func(i int64) bool {
		if !found {
			end, found = i+1, true
			return true
		}
		lastStart = i + 1
		return false
	})
	return end, lastStart, err
}

// lastLinesStart returns where the last n lines before end start; end is
// just after a newline (or 0).
func lastLinesStart(r io.ReaderAt, end int64, n int) (int64, error) {
	var start int64
	seen := 0
	err := scanBack(r, end, func(i int64) bool {
		seen++ // the first newline seen ends the last line
		if seen == n+1 {
			start = i + 1
			return false
		}
		return true
	})
	return start, err
}

// scanBack calls found with the offset of each newline before size, last
// first, until it returns false.
func scanBack(r io.ReaderAt, size int64, found func(int64) bool) error {
	buf := make([]byte, chunk)
	for pos := size; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := r.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return err
		}
		b := buf[:n]
		for {
			i := bytes.LastIndexByte(b, '\n')
			if i < 0 {
				break
			}
			if !found(pos + int64(i)) {
				return nil
			}
			b = b[:i]
		}
	}
	return nil
}
