package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
)

// A cluster cursor resumes every pod where the page before stopped. It is
// sent whole to every pod, which takes its own entry by its host:
//
//	Pods[host] = the pod's own cursor after the last of its events shown,
//	             or "-" when it has no more;
//	Before     = the eventTime of the last event shown: a pod not in Pods
//	             (it did not answer before) starts below it.
type Cursor struct {
	Pods   map[string]string `json:"p"`
	Before string            `json:"b,omitempty"`
}

// Done marks a pod with no events left.
const Done = "-"

const cursorPrefix = "c1."

// maxCursor bounds a cluster cursor's encoded size.
const maxCursor = 16 << 10

// IsCursor reports whether s is a cluster cursor (not a pod's own).
func IsCursor(s string) bool { return strings.HasPrefix(s, cursorPrefix) }

// String encodes c.
func (c Cursor) String() string {
	b, _ := json.Marshal(c)
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ErrBadCursor is a cluster cursor this server did not make.
var ErrBadCursor = errors.New("not a cursor returned by this server")

// ParseCursor decodes a cluster cursor.
func ParseCursor(s string) (Cursor, error) {
	if !IsCursor(s) || len(s) > maxCursor {
		return Cursor{}, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(cursorPrefix):])
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return Cursor{}, ErrBadCursor
	}
	if c.Before != "" && !event.ValidTimeText([]byte(c.Before)) {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}

// Page is one pod's page, as a pod answers a cluster page's question:
// its events newest first, each with the pod's cursor after it, and
// whether more follow.
type Page struct {
	Host    string            `json:"host"`
	Results []json.RawMessage `json:"results"`
	Cursors []string          `json:"cursors"`
	More    bool              `json:"more"`
}

// Merge takes the newest limit events of the pods' pages, by (eventTime,
// id) newest first (an event two pods both answered is shown once), and
// the cursor that resumes every pod after what was shown. prev is the
// cursor of the page before (zero for the first page).
func Merge(pages []Page, limit int, prev Cursor) ([]json.RawMessage, *Cursor) {
	next := Cursor{Pods: map[string]string{}, Before: prev.Before}
	for h, c := range prev.Pods {
		next.Pods[h] = c
	}
	at := make([]int, len(pages))
	var out []json.RawMessage
	var lastKey []byte
	for len(out) < limit {
		best := -1
		var bestKey []byte
		for i, p := range pages {
			if at[i] >= len(p.Results) {
				continue
			}
			k := sortKey(p.Results[at[i]])
			if best < 0 || bytes.Compare(k, bestKey) > 0 {
				best, bestKey = i, k
			}
		}
		if best < 0 {
			break
		}
		p := pages[best]
		if lastKey == nil || !bytes.Equal(bestKey, lastKey) {
			out = append(out, p.Results[at[best]])
			lastKey = bestKey
			if t, ok := timeOf(p.Results[at[best]]); ok {
				next.Before = t
			}
		}
		if at[best] < len(p.Cursors) {
			next.Pods[p.Host] = p.Cursors[at[best]]
		}
		at[best]++
	}
	more := false
	for i, p := range pages {
		switch {
		case at[i] < len(p.Results) || p.More:
			more = true
		default:
			next.Pods[p.Host] = Done // every event it has was shown
		}
	}
	if !more {
		return out, nil
	}
	return out, &next
}

// sortKey is an event's eventTime and id, which sort newest last as
// bytes; "" when the line is not in the encoder's layout (it sorts
// oldest).
func sortKey(line []byte) []byte {
	t, ok := timeOf(line)
	id, ok2 := event.LineID(line)
	if !ok || !ok2 {
		return []byte{}
	}
	return append([]byte(t), id...)
}

// timeOf is an event line's eventTime text.
func timeOf(line []byte) (string, bool) {
	at := event.TimeOffset
	if len(line) < at+event.TimeLen {
		return "", false
	}
	t := line[at : at+event.TimeLen]
	if !event.ValidTimeText(t) {
		return "", false
	}
	return string(t), true
}
