package ship

import (
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// batch is the lines of one request, in one buffer, and the place of its
// last event (where the position goes once the store has it).
type batch struct {
	n     int
	data  []byte // the lines, each ended by '\n'
	ends  []int  // end of each line in data (without its newline)
	first time.Time

	// The last event line added, and the ids of the others added (in
	// this batch or before) at its eventTime. They outlive reset: the
	// next batch goes on from them.
	lastTime, lastID string
	ties             []string
	lastFile         string
	lastEnd          int64
}

func (b *batch) add(line []byte, file string, end int64) {
	if b.n == 0 {
		b.first = time.Now()
	}
	b.data = append(b.data, line...)
	b.ends = append(b.ends, len(b.data))
	b.data = append(b.data, '\n')
	b.n++
	if t, ok := event.LineTime(line); ok {
		if id, ok := event.LineID(line); ok {
			switch {
			case string(t) == b.lastTime:
				b.ties = append(b.ties, b.lastID)
			default:
				b.ties = b.ties[:0]
			}
			b.lastTime, b.lastID = string(t), string(id)
		}
	}
	b.lastFile, b.lastEnd = file, end
}

// line is the i-th line, without its newline.
func (b *batch) line(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1] + 1
	}
	return b.data[start:b.ends[i]]
}

func (b *batch) reset() {
	*b = batch{data: b.data[:0], ends: b.ends[:0],
		lastTime: b.lastTime, lastID: b.lastID, ties: b.ties, lastFile: b.lastFile, lastEnd: b.lastEnd}
}
