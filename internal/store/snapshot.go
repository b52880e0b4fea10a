package store

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/rotate"
)

// source is one audit file of a snapshot.
type source struct {
	info rotate.Info
	// file is nil until the file is opened (only files past the newest
	// maxHeld are opened late), and after that when it was gone.
	file   *os.File
	opened bool
	size   int64 // of the file as opened: later appends are not seen
	mode   os.FileMode
	// first is the eventTime of the first line; "" while unknown.
	first      string
	firstKnown bool
	// inflated is the decompressed content of a gzip file, once read.
	inflated *inflated
	tempDir  string
}

// open opens the file, once (openListed). A file removed since it was
// listed is left nil: its lines are gone for every reader.
func (s *source) open() error {
	if s.opened {
		return nil
	}
	s.opened = true
	fd, fi, info, err := openListed(s.info)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	s.file, s.size, s.mode, s.info = fd, fi.Size(), fi.Mode().Perm(), info
	return nil
}

// reader returns the file's content for reading at random, and its
// length: the file itself, or its decompressed copy. A file gone reads
// as empty.
func (s *source) reader() (io.ReaderAt, int64, error) {
	if err := s.open(); err != nil {
		return nil, 0, err
	}
	switch {
	case s.file == nil:
		return strings.NewReader(""), 0, nil
	case !s.info.Compressed:
		return s.file, s.size, nil
	}
	if s.inflated == nil {
		in, err := inflate(io.NewSectionReader(s.file, 0, s.size), s.tempDir)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", s.info.Name, err)
		}
		s.inflated = in
	}
	return s.inflated, s.inflated.size, nil
}

// text returns the file's lines from the start, decompressed when it is
// gzip, read as a stream (a gzip file is not inflated whole); each call
// reads anew. A file gone is an error matching fs.ErrNotExist.
func (s *source) text() (io.ReadCloser, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	if s.file == nil {
		return nil, fmt.Errorf("%s: removed since it was listed: %w", s.info.Name, fs.ErrNotExist)
	}
	r := io.NewSectionReader(s.file, 0, s.size)
	if !s.info.Compressed {
		return io.NopCloser(r), nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: decompress: %w", s.info.Name, err)
	}
	return zr, nil
}

// release drops the decompressed copy of a gzip file.
func (s *source) release() {
	if s.inflated != nil {
		s.inflated.Close()
		s.inflated = nil
	}
}

func (s *source) close() {
	s.release()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// Snapshot is the audit files at one moment, newest first, held open:
// rotation, compression, retention or a rewrite after that moment changes
// nothing of what it reads. Every read of the trail goes through one (the
// queries, delete, and verify in the integrity package), so that every
// reader opens the files by the same rule (openListed) and sees a
// rotation the same way.
type Snapshot struct {
	srcs []*source
}

var _ integrity.Files = (*Snapshot)(nil)

// maxHeld bounds the files a snapshot opens at once: the newest ones.
// Older files, which only retention removes (rotated files keep their
// names but for compression, which openListed follows), are opened when
// they are first read.
const maxHeld = 256

// maxSnapshotTries bounds how often a snapshot is retried when the files
// change while they are being opened (a rotation at that very moment).
const maxSnapshotTries = 50

// Snapshot opens the audit files. It lists them, opens them, and checks
// that the names still list the same and name the files it opened; if
// not (a rotation happened in between), it tries again. Close it.
func (st *Store) Snapshot() (*Snapshot, error) {
	for try := 0; try < maxSnapshotTries; try++ {
		sn, ok, err := st.trySnapshot()
		if err != nil || ok {
			return sn, err
		}
	}
	return nil, errors.New("open audit files: they kept changing while being opened")
}

func (st *Store) trySnapshot() (*Snapshot, bool, error) {
	infos, err := st.list()
	if err != nil {
		return nil, false, err
	}
	sn := &Snapshot{srcs: make([]*source, 0, len(infos))}
	for i, info := range infos {
		src := &source{info: info, tempDir: st.opts.TempDir}
		sn.srcs = append(sn.srcs, src)
		if i >= maxHeld {
			continue
		}
		if err := src.open(); err != nil || src.file == nil {
			sn.Close()
			return nil, false, err // gone (nil error): the files changed, try again
		}
	}
	again, err := st.list()
	if err != nil || !sn.matches(again) {
		sn.Close()
		return nil, false, err
	}
	return sn, true, nil
}

// matches reports whether infos names exactly the files of sn, and the
// files it holds open are the ones those names now name.
func (sn *Snapshot) matches(infos []rotate.Info) bool {
	if len(infos) != len(sn.srcs) {
		return false
	}
	for i, info := range infos {
		src := sn.srcs[i]
		if info.Name != src.info.Name {
			return false
		}
		if src.file == nil {
			continue // opened when read
		}
		now, err := os.Lstat(info.Path)
		held, herr := src.file.Stat()
		if err != nil || herr != nil || !os.SameFile(now, held) {
			return false
		}
	}
	return true
}

// list lists the audit files; a missing directory has none. It is the one
// listing of the trail.
func (st *Store) list() ([]rotate.Info, error) {
	infos, err := rotate.List(st.opts.Dir, st.opts.Filename)
	if st.afterList != nil {
		st.afterList()
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return infos, err
}

// Len is how many files the snapshot has.
func (sn *Snapshot) Len() int { return len(sn.srcs) }

// Info describes file i, newest first (0 is the live file when there is
// one). A plain file compressed between the listing and its open is
// described as the .gz read.
func (sn *Snapshot) Info(i int) rotate.Info { return sn.srcs[i].info }

// Text returns the lines of file i from its start, decompressed when it
// is gzip; each call reads anew. It is valid until the snapshot is
// closed. A file removed before it was opened (by retention: see
// maxHeld) is an error matching fs.ErrNotExist.
func (sn *Snapshot) Text(i int) (io.ReadCloser, error) { return sn.srcs[i].text() }

// Close closes the files.
func (sn *Snapshot) Close() error {
	if sn == nil {
		return nil
	}
	for _, s := range sn.srcs {
		s.close()
	}
	return nil
}

// openText opens a listed file's lines from the start (source.text), for
// a reader that goes through one file once.
func openText(info rotate.Info) (io.ReadCloser, error) {
	src := &source{info: info}
	r, err := src.text()
	if err != nil {
		src.close()
		return nil, err
	}
	return readCloser{r, closers{r, src.file}}, nil
}
