package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/trailcar/trailcar/rotate"
)

// errNotRegular is wrapped by the error of an open that found something
// other than a regular file (a symlink, a FIFO, a directory) under an
// audit file's name: it is not read, whatever it points to. It also
// matches fs.ErrNotExist, as the audit file is not there: readers skip
// it as they skip a file removed after listing.
var errNotRegular = fmt.Errorf("not a regular file: %w", fs.ErrNotExist)

func notRegular(path string) error { return fmt.Errorf("open %s: %w", path, errNotRegular) }

// isLink reports whether path names a symlink now.
func isLink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// checkRegular keeps fd if it is a regular file.
func checkRegular(fd *os.File) (*os.File, os.FileInfo, error) {
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		fd.Close()
		return nil, nil, notRegular(fd.Name())
	}
	return fd, fi, nil
}

// openListed opens a listed audit file. It is the one way the trail's
// files are opened, by the queries, the file routes, follow, delete and
// (through Snapshot) verify:
//
//   - only a regular file is opened (openRegular): a file swapped for a
//     symlink or anything else after it was listed is refused as gone
//     (errNotRegular), never followed;
//   - a plain rotated file compressed since it was listed is opened as
//     its .gz, which compression renames into place before it removes
//     the plain file, and the Info returned names the .gz.
//
// A file gone (retention, or a rotation the caller retries on) is an
// error matching fs.ErrNotExist.
func openListed(info rotate.Info) (*os.File, os.FileInfo, rotate.Info, error) {
	fd, fi, err := openRegular(info.Path)
	if errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotRegular) && !info.Compressed && !info.Live {
		gz := info
		gz.Name, gz.Path, gz.Compressed = info.Name+".gz", info.Path+".gz", true
		if fd, fi, err = openRegular(gz.Path); err == nil {
			info = gz
		}
	}
	if err != nil {
		return nil, nil, info, err
	}
	info.Size, info.ModTime = fi.Size(), fi.ModTime()
	return fd, fi, info, nil
}
