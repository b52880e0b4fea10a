package store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// inflateInMemory is the largest decompressed gzip file kept in memory;
// larger ones go to a temporary file.
const inflateInMemory = 8 << 20

// inflated is a decompressed gzip file, readable at random.
type inflated struct {
	mem  []byte
	file *os.File // unlinked temporary file, when mem was not enough
	size int64
}

// inflate decompresses r. Memory use is bounded by inflateInMemory
// whatever the size: past it, the content goes to a temporary file in
// tempDir, unlinked at once so that nothing is left behind even if the
// process dies.
func inflate(r io.Reader, tempDir string) (*inflated, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	defer zr.Close()
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, zr, inflateInMemory+1)
	if err == io.EOF || (err == nil && n <= inflateInMemory) {
		return &inflated{mem: mem.Bytes(), size: int64(mem.Len())}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	tmp, err := os.CreateTemp(tempDir, ".trailcar-inflate-*")
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	os.Remove(tmp.Name())
	in := &inflated{file: tmp}
	if _, err := tmp.Write(mem.Bytes()); err != nil {
		in.Close()
		return nil, fmt.Errorf("decompress: %w", err)
	}
	rest, err := io.Copy(tmp, zr)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("decompress: %w", err)
	}
	in.size = int64(mem.Len()) + rest
	return in, nil
}

// ReadAt reads the decompressed content.
func (in *inflated) ReadAt(p []byte, off int64) (int, error) {
	if in.file != nil {
		return in.file.ReadAt(p, off)
	}
	if off >= int64(len(in.mem)) {
		return 0, io.EOF
	}
	n := copy(p, in.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close drops the content.
func (in *inflated) Close() error {
	if in.file != nil {
		return in.file.Close()
	}
	in.mem = nil
	return nil
}

// firstLine returns the first line of a gzip stream, decompressing only
// as much as it needs.
func firstGzipLine(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 16<<10))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 64<<10)
	line, err := br.ReadSlice('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return bytes.TrimSuffix(line, []byte("\n")), nil
}
