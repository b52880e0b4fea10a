package store

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trailcar/trailcar/internal/durable"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rotate"
)

// mayHold reports whether file i of sn (newest first) may hold a line
// cut drops, judging by the time span of its lines: from its first line to
// the first line of the newer file.
func (sn *Snapshot) mayHold(i int, cut *cutFilter) bool {
	first, ok := sn.srcs[i].firstTime()
	if ok && (cut.before != "" && first >= cut.before || first > cut.upto) {
		return false
	}
	if i > 0 && cut.since != "" {
		if next, ok := sn.srcs[i-1].firstTime(); ok && next < cut.since {
			return false
		}
	}
	return true
}

// rewriteFile rewrites one file without the lines cut drops, if it holds
// any, and returns how many it dropped. A file removed by retention since
// the snapshot was taken reads as empty: nothing is left to delete.
func (st *Store) rewriteFile(ctx context.Context, src *source, cut *cutFilter) (int, error) {
	ra, size, err := src.reader()
	if err != nil {
		return 0, err
	}
	lo, hi, err := cut.span(ra, size)
	if err != nil {
		return 0, err
	}
	info := src.info
	rw := &rewriter{path: info.Path, gz: info.Compressed, mode: src.mode, src: ra}
	defer rw.abort()
	dropped := 0
	lines := newFwdLines(ra, lo, hi)
	next := lo // offset after the last line read
	for n := 0; ; n++ {
		line, off, ok, err := lines.Next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		if n&4095 == 4095 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if rw.started() && off > next {
			// Bytes the reader skipped (an overlong non-event) are kept.
			if err := rw.raw(next, off); err != nil {
				return 0, err
			}
		}
		next = off + int64(len(line)) + 1
		t, _ := event.LineTime(line)
		if !cut.drops(line, t) {
			if rw.started() {
				err = rw.line(line)
			}
		} else if dropped++; !rw.started() {
			err = rw.start(off)
		}
		if err != nil {
			return 0, err
		}
	}
	if dropped == 0 {
		return 0, nil
	}
	if err := rw.finish(next, size); err != nil {
		return 0, err
	}
	return dropped, nil
}

// span returns where, in a file, lines cut may drop begin and end: before
// lo all are older than since, from hi on all are newer than the span.
func (c *cutFilter) span(ra io.ReaderAt, size int64) (lo, hi int64, err error) {
	if c.since != "" {
		if lo, _, err = seekTime(ra, size, func(t []byte) bool { return string(t) >= c.since }); err != nil {
			return 0, 0, err
		}
	}
	_, hi, err = seekTime(ra, size, func(t []byte) bool {
		return c.before != "" && string(t) >= c.before || string(t) > c.upto
	})
	return lo, max(lo, hi), err
}

// rewriter writes the new version of a file to a dot-named temporary file
// beside it, then renames it over the file.
type rewriter struct {
	path string
	gz   bool
	mode os.FileMode
	src  io.ReaderAt // the content being rewritten (decompressed)

	tmp *os.File
	buf *bufio.Writer
	zw  *gzip.Writer
	w   io.Writer
	// written counts the bytes of the new content.
	written int64
}

func (rw *rewriter) started() bool { return rw.tmp != nil }

// start creates the temporary file and copies the content before off.
func (rw *rewriter) start(off int64) error {
	dir, base := filepath.Split(rw.path)
	tmp, err := os.CreateTemp(dir, "."+base+".rewrite-*")
	if err != nil {
		return err
	}
	rw.tmp = tmp
	rw.buf = bufio.NewWriterSize(tmp, 1<<20)
	rw.w = rw.buf
	if rw.gz {
		rw.zw = gzip.NewWriter(rw.buf)
		rw.w = rw.zw
	}
	return rw.raw(0, off)
}

// raw copies the content from off to end as is.
func (rw *rewriter) raw(off, end int64) error {
	n, err := io.Copy(rw.w, io.NewSectionReader(rw.src, off, end-off))
	rw.written += n
	return err
}

func (rw *rewriter) line(line []byte) error {
	rw.written += int64(len(line)) + 1
	if _, err := rw.w.Write(line); err != nil {
		return err
	}
	_, err := rw.w.Write([]byte{'\n'})
	return err
}

// finish copies the content from off to size, syncs, and renames the
// temporary file over the original. A file left with nothing is removed
// instead (only rotated files are rewritten).
func (rw *rewriter) finish(off, size int64) error {
	if err := rw.raw(off, size); err != nil {
		return err
	}
	if rw.written == 0 {
		if err := os.Remove(rw.path); err != nil {
			return err
		}
		return durable.SyncDir(filepath.Dir(rw.path))
	}
	if rw.zw != nil {
		if err := rw.zw.Close(); err != nil {
			return err
		}
	}
	if err := rw.buf.Flush(); err != nil {
		return err
	}
	if err := rw.tmp.Chmod(rw.mode); err != nil {
		return err
	}
	if err := rw.tmp.Sync(); err != nil {
		return err
	}
	if err := rw.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(rw.tmp.Name(), rw.path); err != nil {
		return err
	}
	rw.tmp = nil
	return durable.SyncDir(filepath.Dir(rw.path))
}

// abort removes the temporary file unless finish renamed it.
func (rw *rewriter) abort() {
	if rw.tmp != nil {
		rw.tmp.Close()
		os.Remove(rw.tmp.Name())
	}
}

// rotateLiveFor rotates the live file aside when it holds a line cut
// drops: a delete never rewrites the live file (Delete). The rotation is
// checked: the live path must name another file after it.
func (st *Store) rotateLiveFor(ctx context.Context, cut *cutFilter) error {
	sn, err := st.Snapshot()
	if err != nil {
		return err
	}
	defer sn.Close()
	if len(sn.srcs) == 0 || !sn.srcs[0].info.Live || !sn.mayHold(0, cut) {
		return nil
	}
	live := sn.srcs[0]
	holds, err := holdsDrop(ctx, live, cut)
	if err != nil || !holds {
		return err
	}
	if st.opts.RotateLive != nil {
		err = st.opts.RotateLive(ctx)
	} else {
		_, err = rotate.MoveAside(st.opts.Dir, st.opts.Filename)
	}
	if err != nil {
		return fmt.Errorf("rotate the live file aside: %w", err)
	}
	held, herr := live.file.Stat()
	now, nerr := os.Lstat(live.info.Path)
	if herr == nil && nerr == nil && os.SameFile(held, now) {
		return errors.New("rotate the live file aside: it is still the live file")
	}
	return nil
}

// holdsDrop reports whether the file holds a line cut drops.
func holdsDrop(ctx context.Context, src *source, cut *cutFilter) (bool, error) {
	ra, size, err := src.reader()
	if err != nil {
		return false, err
	}
	lo, hi, err := cut.span(ra, size)
	if err != nil {
		return false, err
	}
	lines := newFwdLines(ra, lo, hi)
	for n := 0; ; n++ {
		line, _, ok, err := lines.Next()
		if err != nil || !ok {
			return false, err
		}
		if n&4095 == 4095 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		t, _ := event.LineTime(line)
		if cut.drops(line, t) {
			return true, nil
		}
	}
}
