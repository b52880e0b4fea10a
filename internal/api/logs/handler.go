// Package logfiles serves the audit log files over HTTP (README "Admin API"): the
// "Log Files" index, one file's content (whole, its last lines, a byte
// range), and a follow stream of the live file that keeps going across
// rotation.
//
// Only the files rotate.List returns are ever opened: a name is looked up in
// that list, never joined to the directory, so "..", encoded slashes,
// absolute paths and symlinks (List skips them) all answer 404.
package logs

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"

	"github.com/trailcar/trailcar/rotate"
)

// MaxTail is the largest ?tail=N accepted.
const MaxTail = 100000

// Handler serves the audit files of one directory. Its zero value is not
// usable: Dir and Filename are required. Its methods are safe for
// concurrent use.
type Handler struct {
	// Dir and Filename locate the audit files, as rotate.List takes them.
	Dir, Filename string
	// Done, when closed, ends the follow streams (shutdown). nil: never.
	Done <-chan struct{}
	// CheckEvery is how often a follow stream checks that the live file's
	// path still names the file it reads; 0 means 500ms. The tail's own
	// polling (every 250ms) usually notices a rotation first; this check
	// covers the moment before the tail starts watching.
	CheckEvery time.Duration
	// WriteTimeout bounds each write to a follow client; 0 means 30s. A
	// client that reads nothing for that long is dropped.
	WriteTimeout time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// IsFollow reports whether r asks for a follow stream: its audit event is
// written at connect, not at the end.
func IsFollow(r *http.Request) bool { return r.URL.Query().Get("follow") == "true" }

// lookup returns the listed file called name. ok is false when no listed
// file has that exact name; a missing directory lists nothing.
func (h *Handler) lookup(name string) (info rotate.Info, ok bool, err error) {
	files, err := h.list()
	if err != nil {
		return rotate.Info{}, false, err
	}
	for _, f := range files {
		if f.Name == name {
			return f, true, nil
		}
	}
	return rotate.Info{}, false, nil
}

func (h *Handler) list() ([]rotate.Info, error) {
	files, err := rotate.List(h.Dir, h.Filename)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // nothing written yet (or the tracker is disabled)
	}
	return files, err
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

func (h *Handler) checkEvery() time.Duration {
	if h.CheckEvery <= 0 {
		return 500 * time.Millisecond
	}
	return h.CheckEvery
}

func (h *Handler) writeTimeout() time.Duration {
	if h.WriteTimeout <= 0 {
		return 30 * time.Second
	}
	return h.WriteTimeout
}

// fileParams are the query parameters of one file's route.
type fileParams struct {
	tail   int // 0: the whole file
	follow bool
}

// paramError is a bad query parameter; the message names it.
type paramError struct{ param, msg string }

func (e *paramError) Error() string { return e.param + ": " + e.msg }

func parseFileParams(q url.Values) (fileParams, error) {
	var p fileParams
	if v, ok := q["tail"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > MaxTail {
			return p, &paramError{"tail", fmt.Sprintf("%q: want a number of lines from 1 to %d", v[0], MaxTail)}
		}
		p.tail = n
	}
	if v, ok := q["follow"]; ok {
		switch v[0] {
		case "true":
			p.follow = true
		case "false", "":
		default:
			return p, &paramError{"follow", fmt.Sprintf("%q: want true or false", v[0])}
		}
	}
	return p, nil
}

func (h *Handler) internalError(w http.ResponseWriter, what string, err error) {
	h.logger().Error(what, "dir", h.Dir, "err", err)
	jsonhttp.Error(w, http.StatusInternalServerError, what+" failed")
}
