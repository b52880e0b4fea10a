package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"
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
	p, err := parseFileParams(r.URL.Query())
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	f, err := h.Store.Open(r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		jsonhttp.Error(w, http.StatusNotFound, "no such log file")
		return
	}
	if err != nil {
		h.internalError(w, "open audit file", err)
		return
	}
	defer f.Close()
	if p.follow && !f.Info.Live {
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("follow: %s is a rotated file and never grows; follow the live file", f.Info.Name))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch {
	case p.follow:
		f.Close() // the follower opens the live file itself
		h.follow(w, r, p.tail)
	case f.Info.Compressed || p.tail > 0:
		h.serveText(w, r, f, p.tail)
	default:
		http.ServeContent(w, r, f.Info.Name, f.ModTime(), f.Content())
	}
}

// serveText sends the file's last n lines (n 0: all), decompressed when
// it is gzip; no Range, since offsets of the text are not offsets of the
// file.
func (h *Handler) serveText(w http.ResponseWriter, r *http.Request, f *store.File, n int) {
	text, err := f.Text(n)
	if err != nil {
		h.internalError(w, "read audit file", err)
		return
	}
	defer text.Close()
	w.Header().Set("Accept-Ranges", "none")
	if n > 0 {
		w.Header().Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, text); err != nil {
		h.logger().Debug("send audit file", "file", f.Info.Name, "err", err)
	}
}

// follow sends the live file (all of it, or its last n lines) and then
// every line appended to it, across rotation, until the client leaves or
// Done is closed.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request, n int) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold the stream back
	if r.Method == http.MethodHead {
		return
	}
	out := newStreamWriter(w, h.writeTimeout())
	defer out.close()
	err := h.Store.Follow(r.Context(), store.FollowOptions{
		Whole: n == 0, Tail: n,
		Poll: h.Poll, Wake: h.Wake, Done: h.Done,
		Tick: out.flush,
	}, out.line)
	switch {
	case !out.started && err != nil:
		h.internalError(w, "follow audit file", err)
	case err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrShutdown):
		h.logger().Debug("follow stream ended", "err", err)
	}
}
