//go:build !unix

package store

import "os"

// openRegular opens path for reading, refusing a symlink and anything
// that is not a regular file (checked before opening on the name, and
// after on the file opened). It returns the file's FileInfo, from the
// file opened.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	if fi, err := os.Lstat(path); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path)
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return checkRegular(fd)
}
