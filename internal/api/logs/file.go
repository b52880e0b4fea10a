package logs

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/trailcar/trailcar/rotate"
)

// ServeFile answers one listed file, named by the "name" path value, as
// text/plain:
//
//   - plain: the whole file up to its last complete line, with Range and
//     conditional requests (http.ServeContent);
//   - ?tail=N: its last N lines;
//   - ?follow=true (live file only; 400 on a rotated one, which never
//     grows): the file (or its last N lines), then every line appended,
//     across rotation, until the client leaves or Done is closed;
//   - a rotated .gz file is decompressed and served as text/plain (no
//     Range: byte offsets of the text are not offsets of the file).
//
// Any name that is not listed is 404.
func (h *Handler) ServeFile(w http.ResponseWriter, r *http.Request) {
	info, ok, err := h.lookup(r.PathValue("name"))
	if err != nil {
		h.internalError(w, "list audit files", err)
		return
	}
	if !ok {
		jsonhttp.Error(w, http.StatusNotFound, "no such log file")
		return
	}
	p, err := parseFileParams(r.URL.Query())
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if p.follow && !info.Live {
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("follow: %s is a rotated file and never grows; follow %s", info.Name, h.Filename))
		return
	}
	fd, err := openRegular(info.Path)
	if errors.Is(err, os.ErrNotExist) {
		jsonhttp.Error(w, http.StatusNotFound, "no such log file") // rotated away or removed since listing
		return
	}
	if err != nil {
		h.internalError(w, "open audit file", err)
		return
	}
	defer fd.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch {
	case p.follow:
		h.follow(w, r, fd, p.tail)
	case info.Compressed:
		h.serveGzip(w, r, fd, p.tail)
	case p.tail > 0:
		h.serveTail(w, r, fd, p.tail)
	default:
		h.serveWhole(w, r, fd, info)
	}
}

func (h *Handler) serveWhole(w http.ResponseWriter, r *http.Request, fd *os.File, info rotate.Info) {
	fi, err := fd.Stat()
	if err != nil {
		h.internalError(w, "stat audit file", err)
		return
	}
	end, _, err := completeEnd(fd, fi.Size())
	if err != nil {
		h.internalError(w, "read audit file", err)
		return
	}
	http.ServeContent(w, r, info.Name, fi.ModTime(), io.NewSectionReader(fd, 0, end))
}

func (h *Handler) serveTail(w http.ResponseWriter, r *http.Request, fd *os.File, n int) {
	fi, err := fd.Stat()
	if err != nil {
		h.internalError(w, "stat audit file", err)
		return
	}
	end, _, err := completeEnd(fd, fi.Size())
	if err != nil {
		h.internalError(w, "read audit file", err)
		return
	}
	start, err := lastLinesStart(fd, end, n)
	if err != nil {
		h.internalError(w, "read audit file", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, io.NewSectionReader(fd, start, end-start))
}

// serveGzip decompresses a rotated file as it is sent. For ?tail=N it reads
// the file twice (count the lines, then skip all but the last N), which
// keeps memory flat whatever N is.
func (h *Handler) serveGzip(w http.ResponseWriter, r *http.Request, fd *os.File, n int) {
	skip := 0
	if n > 0 {
		lines, err := countGzipLines(fd)
		if err != nil {
			h.internalError(w, "read compressed audit file", err)
			return
		}
		skip = max(lines-n, 0)
		if _, err := fd.Seek(0, io.SeekStart); err != nil {
			h.internalError(w, "read compressed audit file", err)
			return
		}
	}
	zr, err := gzip.NewReader(fd)
	if err != nil {
		h.internalError(w, "read compressed audit file", err)
		return
	}
	defer zr.Close()
	w.Header().Set("Accept-Ranges", "none")
	if r.Method == http.MethodHead {
		return
	}
	br := bufio.NewReaderSize(zr, 64<<10)
	for skip > 0 {
		_, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			skip--
		case errors.Is(err, bufio.ErrBufferFull): // a long line goes on
		default:
			return
		}
	}
	if _, err := br.WriteTo(w); err != nil {
		h.logger().Debug("send compressed audit file", "err", err)
	}
}

// countGzipLines counts the lines of a gzip file; a last line without a
// newline counts too.
func countGzipLines(r io.Reader) (int, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	buf := make([]byte, 64<<10)
	lines := 0
	var last byte = '\n'
	for {
		n, err := zr.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				lines++
			}
		}
		if n > 0 {
			last = buf[n-1]
		}
		if err == io.EOF {
			if last != '\n' {
				lines++
			}
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}
