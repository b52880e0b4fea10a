//go:build unix

package ship

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Lock takes path (made if missing) as an exclusive lock, so that one
// shipper works a dir at a time; the lock goes with the process, however
// it ends. The returned function releases it.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is held: another shipper works this dir", path)
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
