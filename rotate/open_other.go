//go:build !unix

package rotate

import (
	"fmt"
	"os"
)

// openNoFollow opens path, refusing a symlink at its last element (checked
// before opening: there is no O_NOFOLLOW here).
func openNoFollow(path string, flag int, mode os.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("open %s: is a symlink", path)
	}
	return os.OpenFile(path, flag, mode)
}

// links cannot be known here: a live file moved away is taken for one
// deleted, and reopened at once.
func links(os.FileInfo) (uint64, bool) { return 0, false }
