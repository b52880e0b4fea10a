// Package logs serves the audit log files over HTTP (docs/admin-api.md "Log files"): the
// "Log Files" index, one file's content (whole, its last lines, a byte
// range), and a follow stream of the live file that keeps going across
// rotation; on the admin port, Pods answers the same for every pod of a
// cluster (docs/cluster.md "One trail across pods").
//
// Every byte comes from the store (internal/store), which opens only listed
// files: a name is looked up in the list, never joined to the directory, so
// "..", encoded slashes, absolute paths and symlinks all answer 404.
package logs

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"
)

// MaxTail is the largest ?tail=N accepted.
const MaxTail = 100000

// Handler serves the audit files of one store. Store is required. Its
// methods are safe for concurrent use.
type Handler struct {
	// Store reads the files; every byte served comes through it.
	Store *store.Store
	// Done, when closed, ends the follow streams (shutdown). nil: never.
	Done <-chan struct{}
	// Poll is how often a follow stream looks for new lines when Wake
	// does not say; 0 means 250ms.
	Poll time.Duration
	// Wake, if set, tells follow streams that something was written
	// (*audit.Writer.Written).
	Wake func() <-chan struct{}
	// WriteTimeout bounds each write to a follow client; 0 means 30s. A
	// client that reads nothing for that long is dropped.
	WriteTimeout time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// IsFollow reports whether r asks for a follow stream: its audit event is
// written at connect, not at the end.
func IsFollow(r *http.Request) bool { return r.URL.Query().Get("follow") == "true" }

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
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
	h.logger().Error(what, "err", err)
	jsonhttp.Error(w, http.StatusInternalServerError, what+" failed")
}
