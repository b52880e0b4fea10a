package integrity

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/trailcar/trailcar/rotate"
)

// maxHeld bounds the files a Snapshot opens at once (the newest ones);
// older files, which only retention removes, are opened as they are read.
const maxHeld = 256

// Snapshot is the audit files of a dir, held open as they were when it
// was taken: a writer, rotation, compression and retention may go on
// meanwhile without changing what is verified. Take it while the writer
// and deletes are held (the Sealer's lock) to verify a running trail.
type Snapshot struct {
	files []*snapFile // oldest first
}

type snapFile struct {
	info rotate.Info
	f    *os.File // nil: opened when read
	size int64    // bytes to read; -1: to the end
}

// OpenSnapshot lists and opens the audit files of dir.
func OpenSnapshot(dir, filename string) (*Snapshot, error) {
	infos, err := rotate.List(dir, filename) // newest first
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	s := &Snapshot{}
	for i := len(infos) - 1; i >= 0; i-- {
		sf := &snapFile{info: infos[i], size: -1}
		if i < maxHeld {
			if err := sf.hold(); err != nil {
				s.Close()
				return nil, fmt.Errorf("%s: %w", infos[i].Name, err)
			}
		}
		s.files = append(s.files, sf)
	}
	return s, nil
}

// hold opens the file and notes its size; a plain rotated file compressed
// since it was listed is opened as its .gz. A file gone is left nil.
func (sf *snapFile) hold() error {
	f, err := os.Open(sf.info.Path)
	if errors.Is(err, fs.ErrNotExist) && !sf.info.Compressed && !sf.info.Live {
		if f, err = os.Open(sf.info.Path + ".gz"); err == nil {
			sf.info.Path, sf.info.Name, sf.info.Compressed = sf.info.Path+".gz", sf.info.Name+".gz", true
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed (retention) since it was listed
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	sf.f, sf.size = f, fi.Size()
	return nil
}

// text reads the file's lines from the start, through gzip when
// compressed; each call reads anew. A nil reader: the file is gone.
func (sf *snapFile) text() (io.Reader, error) {
	if sf.f == nil {
		if err := sf.hold(); err != nil || sf.f == nil {
			return nil, err
		}
	}
	var r io.Reader = io.NewSectionReader(sf.f, 0, sf.size)
	if !sf.info.Compressed {
		return r, nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sf.info.Name, err)
	}
	return zr, nil
}

// Close closes the files held.
func (s *Snapshot) Close() error {
	for _, sf := range s.files {
		if sf.f != nil {
			sf.f.Close()
			sf.f = nil
		}
	}
	return nil
}

// Verify checks the chain of the files, oldest first (docs/integrity.md
// "Verify"). pub, if set, checks every checkpoint's signature. The
// error is for files that could not be read (or ctx ending), not for
// tampering.
func (s *Snapshot) Verify(ctx context.Context, pub ed25519.PublicKey) (Report, error) {
	v := &verifier{pub: pub, deletes: map[string]deleteRecord{}, startAssumed: true}
	for _, sf := range s.files {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if err := v.file(sf); err != nil {
			return Report{}, fmt.Errorf("%s: %w", sf.info.Name, err)
		}
	}
	if err := v.resolve(); err != nil {
		return Report{}, err
	}
	rep := Report{Intact: true, Files: v.files}
	if pub != nil {
		rep.KeyID = KeyID(pub)
	}
	for i := range rep.Files {
		if rep.Files[i].Tampered() {
			rep.Intact = false
		}
	}
	return rep, nil
}

// Verify checks the audit files of dir as they are (see
// Snapshot.Verify).
func Verify(dir, filename string, pub ed25519.PublicKey) (Report, error) {
	s, err := OpenSnapshot(dir, filename)
	if err != nil {
		return Report{}, err
	}
	defer s.Close()
	return s.Verify(context.Background(), pub)
}
