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

// links is how many names the file has (0: deleted, though still open).
func links(fi os.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true
}
