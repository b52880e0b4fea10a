package ship

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// Lines pruned by retention before they were shipped are lost to the
// store, and that must never be silent (docs/shipping.md "Lost lines").
// Once a file is gone its lines cannot be counted, so while the shipper
// is behind it takes an inventory of the rotated files it has not passed
// yet: the eventTime and id of each line after its position. When a
// delivered batch moves the position past inventoried lines that were
// not in it, and their file is gone (retention; a delete's rewrite keeps
// the file, and deleted lines are not lost), they are counted lost.
//
// A line still read from a file that retention has unlinked (the
// follower holds it open) is delivered, so it is not counted.

// invFile is the inventory of one rotated file.
type invFile struct {
	path, gz string   // the file under both of its names
	times    []string // eventTime of each line after the position when taken, in file order
	ids      []string
}

// inventory is every rotated file not passed yet, by name without .gz.
type inventory map[string]*invFile

// inventoryEvery is how often the files are listed while the shipper
// waits on the store: a file rotated and pruned in less time than that
// (max_files rotations within it) escapes the count.
const inventoryEvery = 200 * time.Millisecond

// takeInventory lists the dir and reads the rotated files that are new
// to the inventory and may hold lines after the position. At most every
// inventoryEvery: it runs while the shipper waits on the store, and
// before each batch it sends.
func (s *Shipper) takeInventory() {
	if time.Since(s.invTaken) < inventoryEvery {
		return
	}
	s.invTaken = time.Now()
	infos, err := rotate.List(s.opts.Dir, s.opts.Filename)
	if err != nil {
		return
	}
	at, _ := time.Parse(time.RFC3339Nano, s.pos.EventTime)
	for _, in := range infos {
		name := strings.TrimSuffix(in.Name, ".gz")
		if in.Live || s.inv[name] != nil || (!at.IsZero() && !in.Rotated.Add(time.Millisecond).After(at)) {
			continue
		}
		f := &invFile{path: filepath.Join(s.opts.Dir, name), gz: filepath.Join(s.opts.Dir, name+".gz")}
		err := store.ForEachLine(in, func(line []byte) error {
			t, ok1 := event.LineTime(line)
			id, ok2 := event.LineID(line)
			if ok1 && ok2 && string(t) > s.pos.EventTime {
				f.times = append(f.times, string(t))
				f.ids = append(f.ids, string(id))
			}
			return nil
		})
		if err != nil || len(f.times) == 0 {
			continue // gone already (its loss cannot be counted), or nothing to ship in it
		}
		if s.inv == nil {
			s.inv = inventory{}
		}
		s.inv[name] = f
	}
}

// settleInventory runs after a batch is delivered, with its ids: lines
// of the inventory at or before the new position that were not
// delivered, in a file that is gone, are lost; files passed leave the
// inventory.
func (s *Shipper) settleInventory(delivered map[string]bool) {
	if len(s.inv) == 0 {
		return
	}
	var lost Report
	for name, f := range s.inv {
		gone := missing(f.path) && missing(f.gz)
		keep := 0
		for i, t := range f.times {
			switch {
			case t > s.pos.EventTime:
				f.times[keep], f.ids[keep] = t, f.ids[i]
				keep++
			case delivered[f.ids[i]] || !gone:
			default:
				lost.Count++
				if lost.From == "" || t < lost.From {
					lost.From = t
				}
				if t > lost.To {
					lost.To = t
				}
			}
		}
		f.times, f.ids = f.times[:keep], f.ids[:keep]
		if keep == 0 {
			delete(s.inv, name)
		}
	}
	if lost.Count == 0 {
		return
	}
	lost.Kind = "lost"
	s.m.Lines.WithLabelValues("lost").Add(float64(lost.Count))
	s.log.Error("lines pruned by retention before they were shipped are lost to the store", "count", lost.Count, "from", lost.From, "to", lost.To)
	if s.opts.Report != nil {
		s.opts.Report(lost)
	}
}

func missing(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}
