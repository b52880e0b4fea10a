//go:build unix

package rotate

import (
	"os"
	"syscall"
)

// openNoFollow opens path without following a symlink at its last
// element: a link planted where the live file belongs is never written
// through.
func openNoFollow(path string, flag int, mode os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, mode)
}
