//go:build unix

package store

import (
	"fmt"
	"os"
	"syscall"
)

// openRegular opens path for reading, refusing a symlink (O_NOFOLLOW: a
// listed file swapped for a link after listing is not followed) and
// anything that is not a regular file.
func openRegular(path string) (*os.File, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return checkRegular(fd)
}

func checkRegular(fd *os.File) (*os.File, error) {
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		fd.Close()
		return nil, fmt.Errorf("open %s: %w", fd.Name(), os.ErrNotExist)
	}
	return fd, nil
}
