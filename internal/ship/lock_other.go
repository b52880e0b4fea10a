//go:build !unix

package ship

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Lock takes path as an exclusive lock by making it; without flock, a
// lock left by a process that died must be removed by hand.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: another shipper works this dir (remove it if none does)", path)
	}
	if err != nil {
		return nil, err
	}
	f.Close()
	return func() { os.Remove(path) }, nil
}
