package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/trailcar/trailcar/rotate"
)

// source is one audit file of a snapshot, open.
type source struct {
	info rotate.Info
	file *os.File
	size int64 // of the file as opened: later appends are not seen
	// first is the eventTime of the first line; "" while unknown.
	first      string
	firstKnown bool
	// inflated is the decompressed content of a gzip file, once read.
	inflated *inflated
	tempDir  string
}

// reader returns the file's content for reading at random, and its
// length: the file itself, or its decompressed copy.
func (s *source) reader() (io.ReaderAt, int64, error) {
	if !s.info.Compressed {
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

// release drops the decompressed copy of a gzip file.
func (s *source) release() {
	if s.inflated != nil {
		s.inflated.Close()
		s.inflated = nil
	}
}

func (s *source) close() {
	s.release()
	s.file.Close()
}

// snapshot is the audit files at one moment, newest first, held open:
// rotation, compression, retention or a rewrite after that moment changes
// nothing of what the snapshot reads.
type snapshot struct {
	srcs []*source
}

// maxSnapshotTries bounds how often a snapshot is retried when the files
// change while they are being opened (a rotation at that very moment).
const maxSnapshotTries = 50

// snapshot opens the audit files. It lists them, opens them, and checks
// that the names still list the same and name the files it opened; if
// not (a rotation happened in between), it tries again.
func (st *Store) snapshot() (*snapshot, error) {
	for try := 0; try < maxSnapshotTries; try++ {
		sn, ok, err := st.trySnapshot()
		if err != nil || ok {
			return sn, err
		}
	}
	return nil, errors.New("open audit files: they kept changing while being opened")
}

func (st *Store) trySnapshot() (*snapshot, bool, error) {
	infos, err := st.list()
	if err != nil {
		return nil, false, err
	}
	sn := &snapshot{}
	for _, info := range infos {
		f, err := os.Open(info.Path)
		if errors.Is(err, fs.ErrNotExist) {
			sn.Close()
			return nil, false, nil
		}
		if err != nil {
			sn.Close()
			return nil, false, fmt.Errorf("open audit file: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			sn.Close()
			return nil, false, fmt.Errorf("open audit file: %w", err)
		}
		sn.srcs = append(sn.srcs, &source{info: info, file: f, size: fi.Size(), tempDir: st.opts.TempDir})
	}
	again, err := st.list()
	if err != nil || !sn.matches(again) {
		sn.Close()
		return nil, false, err
	}
	return sn, true, nil
}

// matches reports whether infos names exactly the files of sn.
func (sn *snapshot) matches(infos []rotate.Info) bool {
	if len(infos) != len(sn.srcs) {
		return false
	}
	for i, info := range infos {
		src := sn.srcs[i]
		if info.Name != src.info.Name {
			return false
		}
		now, err := os.Stat(info.Path)
		held, herr := src.file.Stat()
		if err != nil || herr != nil || !os.SameFile(now, held) {
			return false
		}
	}
	return true
}

// list lists the audit files; a missing directory has none.
func (st *Store) list() ([]rotate.Info, error) {
	infos, err := rotate.List(st.opts.Dir, st.opts.Filename)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return infos, err
}

// Close closes the files.
func (sn *snapshot) Close() {
	if sn == nil {
		return
	}
	for _, s := range sn.srcs {
		s.close()
	}
}
