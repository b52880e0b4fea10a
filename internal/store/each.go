package store

import (
	"errors"
	"io/fs"

	"github.com/trailcar/trailcar/rotate"
)

// ForEachLine calls fn with each complete line of one listed file, read
// through gzip when it is compressed, by the rule every reader here opens
// files with. A file removed since it was listed is not an error: it has
// no lines. The shipper counts what a rotated file holds with it before
// retention can prune the file (docs/shipping.md "Lost lines").
func ForEachLine(info rotate.Info, fn func(line []byte) error) error {
	r, err := openText(info)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return forwardLines(r, fn)
}
