package store

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/trailcar/trailcar/rotate"
)

// Files lists the audit files, newest first: the live file, then the
// rotated ones. A missing directory has none.
func (st *Store) Files() ([]rotate.Info, error) { return st.list() }

// File is one listed audit file, open for reading. Only listed files are
// ever opened: a name is looked up in the list, never joined to the
// directory, so "..", absolute paths and symlinks (List skips them, and
// the open refuses them) are not found.
type File struct {
	Info rotate.Info
	fd   *os.File
	fi   os.FileInfo
	end  int64 // of a plain file: just after its last complete line
}

// Open opens the listed file called name; ErrNotFound when no listed file
// has that exact name, or it went away since it was listed.
func (st *Store) Open(name string) (*File, error) {
	infos, err := st.list()
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		if info.Name != name {
			continue
		}
		fd, fi, info, err := openListed(info)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("open audit file: %w", err)
		}
		f := &File{Info: info, fd: fd, fi: fi}
		if !info.Compressed {
			if f.end, err = completeEnd(fd, fi.Size()); err != nil {
				fd.Close()
				return nil, fmt.Errorf("read audit file: %w", err)
			}
		}
		return f, nil
	}
	return nil, ErrNotFound
}

// Close closes the file.
func (f *File) Close() error { return f.fd.Close() }

// ModTime is the file's modification time when it was opened.
func (f *File) ModTime() time.Time { return f.fi.ModTime() }

// Content is a plain file's complete lines, for reading at random (a line
// being written is left out, so it is never sent torn). Not for a
// compressed file: see Text.
func (f *File) Content() *io.SectionReader { return io.NewSectionReader(f.fd, 0, f.end) }

// Text returns the file's lines from the last n on (n <= 0: all of them),
// decompressed when the file is gzip. Memory stays flat whatever n: a
// compressed file is read twice (count, then skip) rather than held.
func (f *File) Text(n int) (io.ReadCloser, error) {
	if !f.Info.Compressed {
		start := int64(0)
		if n > 0 {
			var err error
			if start, err = tailStart(f.fd, f.end, n); err != nil {
				return nil, fmt.Errorf("read audit file: %w", err)
			}
		}
		return io.NopCloser(io.NewSectionReader(f.fd, start, f.end-start)), nil
	}
	skip := 0
	if n > 0 {
		lines, err := countGzipLines(io.NewSectionReader(f.fd, 0, f.fi.Size()))
		if err != nil {
			return nil, fmt.Errorf("read compressed audit file: %w", err)
		}
		skip = max(lines-n, 0)
	}
	zr, err := gzip.NewReader(io.NewSectionReader(f.fd, 0, f.fi.Size()))
	if err != nil {
		return nil, fmt.Errorf("read compressed audit file: %w", err)
	}
	br := bufio.NewReaderSize(zr, 64<<10)
	for skip > 0 {
		_, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			skip--
		case errors.Is(err, bufio.ErrBufferFull): // a long line goes on
		default:
			zr.Close()
			return nil, fmt.Errorf("read compressed audit file: %w", err)
		}
	}
	return readCloser{br, zr}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// completeEnd returns the offset just after the last newline before size.
func completeEnd(r io.ReaderAt, size int64) (int64, error) {
	back := newBackLines(r, size)
	line, off, ok, err := back.Next()
	if err != nil || !ok {
		return 0, err
	}
	return off + int64(len(line)) + 1, nil
}

// tailStart returns where the last n lines before end start; end is just
// after a newline (or 0).
func tailStart(r io.ReaderAt, end int64, n int) (int64, error) {
	back := newBackLines(r, end)
	start := end
	for range n {
		_, off, ok, err := back.Next()
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, nil
		}
		start = off
	}
	return start, nil
}

// countGzipLines counts the lines of a gzip stream; a last line without a
// newline counts too.
func countGzipLines(r io.Reader) (int, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	buf := make([]byte, 64<<10)
	lines := 0
	var last byte = '\n'
	for {
		n, err := zr.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				lines++
			}
		}
		if n > 0 {
			last = buf[n-1]
		}
		if err == io.EOF {
			if last != '\n' {
				lines++
			}
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// forwardLines calls fn with each complete line of r, first first; bytes
// after the last newline are not a line, and an overlong one (longer than
// maxLineLen: not an event) is skipped without being held.
func forwardLines(r io.Reader, fn func(line []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	overlong := false
	for {
		frag, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !overlong && len(long)+len(frag) <= maxLineLen {
				long = append(long, frag...)
			} else {
				overlong, long = true, long[:0]
			}
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		line := frag[:len(frag)-1]
		if len(long) > 0 {
			long = append(long, line...)
			line = long
		}
		if !overlong {
			if err := fn(line); err != nil {
				return err
			}
		}
		long, overlong = long[:0], false
	}
}
