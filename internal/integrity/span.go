package integrity

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// Range bounds a verification to the files whose lines overlap
// [Since, Before), as CloudTrail's validate-logs takes a time range
// (docs/integrity.md "Verify"). A zero bound is open; the zero Range is
// every file.
type Range struct {
	Since, Before time.Time
}

// IsZero reports whether r bounds nothing.
func (r Range) IsZero() bool { return r.Since.IsZero() && r.Before.IsZero() }

// inRange picks the files (indexes newest first, as Files has them) whose
// lines overlap r: a file spans from its first line's eventTime to the
// first line of the file after it (the newest: to its last line).
// hi is the newest file in range, lo the oldest; ok is false when none
// is. A file whose first line gives no time (empty, torn, removed since
// listed) is taken to overlap: judging it costs little, skipping a file
// that does overlap would hide it.
func inRange(files Files, r Range) (lo, hi int, ok bool, err error) {
	var since, before string
	if !r.Since.IsZero() {
		since = event.TimeText(r.Since)
	}
	if !r.Before.IsZero() {
		before = event.TimeText(r.Before)
	}
	lo, hi = -1, -1
	next := "" // the first time of the file after i, or the newest file's last
	if since != "" && files.Len() > 0 {
		if next, err = lastTime(files, 0); err != nil {
			return 0, 0, false, err
		}
	}
	for i := 0; i < files.Len(); i++ {
		first, known, err := firstTime(files, i)
		if err != nil {
			return 0, 0, false, err
		}
		overlaps := !known ||
			(before == "" || first < before) && (since == "" || next == "" || next >= since)
		if overlaps {
			if hi < 0 {
				hi = i
			}
			lo = i
		}
		if known {
			next = first
		} else if i > 0 {
			next = "" // unknown: the span of the file before is open
		}
	}
	return lo, hi, hi >= 0, nil
}

// firstTime reads the eventTime of file i's first line, if it has one
// where the writer puts it.
func firstTime(files Files, i int) (string, bool, error) {
	rc, err := files.Text(i)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer rc.Close()
	line, err := bufio.NewReaderSize(rc, 4096).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", false, err
	}
	t, ok := event.LineTime(line)
	return string(t), ok, nil
}

// lastTime reads the eventTime of file i's last line that has one; ""
// when none does.
func lastTime(files Files, i int) (string, error) {
	rc, err := files.Text(i)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var last [event.TimeLen]byte
	found := false
	err = forEachLine(rc, func(line []byte) error {
		if t, ok := event.LineTime(line); ok {
			copy(last[:], t)
			found = true
		}
		return nil
	})
	if !found {
		return "", err
	}
	return string(last[:]), err
}

// scanDeletes reads file i for its delete records only: a delete's record
// is written after the files it rewrote, maybe after the range, and the
// links of the files in range are followed through it.
func (v *verifier) scanDeletes(i int) error {
	r, err := v.files.Text(i)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return forEachLine(r, func(line []byte) error {
		if hasType(line, deletedTypeText) {
			v.noteDelete(line)
		}
		return nil
	})
}
