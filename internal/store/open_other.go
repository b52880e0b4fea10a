//go:build !unix

package store

import (
	"fmt"
	"os"
)

// openRegular opens path for reading, refusing anything that is not a
// regular file (checked after opening, on the file opened).
func openRegular(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: %w", path, os.ErrNotExist)
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := fd.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		fd.Close()
		return nil, fmt.Errorf("open %s: %w", path, os.ErrNotExist)
	}
	return fd, nil
}
