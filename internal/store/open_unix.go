//go:build unix

package store

import (
	"os"
	"syscall"
)

// openRegular opens path for reading, refusing a symlink (O_NOFOLLOW: a
// listed file swapped for a link after listing is not followed) and
// anything that is not a regular file (O_NONBLOCK: a FIFO swapped in does
// not block the open). It returns the file's FileInfo, from the file
// opened.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if isLink(path) {
			return nil, nil, notRegular(path) // ELOOP: the link is the refusal
		}
		return nil, nil, err
	}
	return checkRegular(fd)
}
