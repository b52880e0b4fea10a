package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
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

// Page is one pod's part of a cluster page: its events newest first,
// each with the pod's cursor after it, and whether more follow.
type Page struct {
	Host    string
	Results [][]byte
	Cursors [][]byte
	More    bool
	// Release, when set, gives back the budget of the body the lines
	// point into (Answer.Release); Merge calls it once the page is merged.
	Release func()
}

// release gives the page's body back, once.
func (p *Page) release() {
	if p.Release != nil {
		p.Release()
		p.Release = nil
	}
}

// PageType is the media type of a pod's part, as peers send it: a JSON
// header line {"host","more"}, then one line per event, its cursor, a
// tab, and the event as stored. Nothing is decoded to merge it.
const PageType = "application/x-trailcar-page"

// AppendPage encodes p as PageType.
func AppendPage(b []byte, p Page) []byte {
	n := 64 + len(p.Host)
	for i, l := range p.Results {
		n += len(p.Cursors[i]) + len(l) + 2
	}
	b = slices.Grow(b, n)
	hdr, _ := json.Marshal(struct {
		Host string `json:"host"`
		More bool   `json:"more"`
	}{p.Host, p.More})
	b = append(append(b, hdr...), '\n')
	for i, l := range p.Results {
		b = append(append(append(append(b, p.Cursors[i]...), '\t'), l...), '\n')
	}
	return b
}

// Sizes of a page's parts that no trailcar sends: a header of its host,
// a pod cursor (about 100 bytes), an event line (the store reads none
// longer). A body padded past them is not a page, so whatever a peer
// sends, its bytes are lines that the page shows (and its byte bounds
// hold), never ballast carried along while it is asked again and again.
const (
	maxPageHeader = 1 << 10
	maxPodCursor  = 1 << 10
	maxPageLine   = 4 << 20
)

// ParsePage decodes a PageType body; the lines point into body.
func ParsePage(body []byte) (Page, error) {
	line, rest, ok := bytes.Cut(body, []byte{'\n'})
	var hdr struct {
		Host string `json:"host"`
		More bool   `json:"more"`
	}
	if !ok || len(line) > maxPageHeader || json.Unmarshal(line, &hdr) != nil || hdr.Host == "" {
		return Page{}, errors.New("not a trailcar page")
	}
	p := Page{Host: hdr.Host, More: hdr.More}
	for len(rest) > 0 {
		line, rest, ok = bytes.Cut(rest, []byte{'\n'})
		cur, ev, tab := bytes.Cut(line, []byte{'\t'})
		if !ok || !tab || len(ev) == 0 || ev[0] != '{' {
			return Page{}, errors.New("not a trailcar page: a torn line")
		}
		if len(cur) > maxPodCursor || len(ev) > maxPageLine {
			return Page{}, errors.New("not a trailcar page: a line or cursor longer than any trailcar sends")
		}
		p.Cursors = append(p.Cursors, cur)
		p.Results = append(p.Results, ev)
	}
	return p, nil
}

// Source is one pod in a merge: the page it answered, and how to get
// its next events after a cursor of its own (nil: no more can be had).
type Source struct {
	Page
	Fetch func(after string, n int) (Page, error)
	at    int
	last  []byte // its cursor after the last event taken (a copy: the page may be freed)
	key   []byte // sortKey of Results[at], once worked out
	keyAt int    // at+1 when key is Results[at]'s
}

// head is the sort key of the source's next event.
func (s *Source) head() []byte {
	if s.keyAt != s.at+1 {
		s.key, s.keyAt = sortKey(s.Results[s.at]), s.at+1
	}
	return s.key
}

// Merge takes the newest limit events of the sources, by (eventTime, id)
// newest first (an event two pods both answered is shown once), reading
// more from a source only when the page needs it, and returns them with
// the cursor that resumes every pod after what was shown (nil when no pod
// has more). prev is the cursor of the page before (zero for the first).
// A source whose Fetch fails keeps its place: the answer is partial,
// nothing is skipped for later pages.
//
// Memory is bounded (docs/cluster.md "Bounds"): the lines shown are
// copied out of the sources' pages, counted in b, and a page is released
// (Page.Release) as soon as the next one of its source replaces it, so
// only one page per source is held at a time; every page is released on
// return. The page ends early, with a cursor, before the line that would
// pass maxBytes or what b has left (it holds at least one line), and when
// a source must be asked again after ctx is done (the query's deadline):
// every source keeps its place, and the next page goes on from there.
func Merge(ctx context.Context, sources []*Source, limit, maxBytes int, prev Cursor, b *Budget) ([][]byte, *Cursor) {
	defer func() {
		for _, s := range sources {
			s.release()
		}
	}()
	next := Cursor{Pods: map[string]string{}, Before: prev.Before}
	for h, c := range prev.Pods {
		next.Pods[h] = c
	}
	var out [][]byte
	var slab []byte
	size := 0
	var lastKey []byte
	stuck := map[*Source]bool{}
	late := false
	for len(out) < limit && !late {
		best := -1
		var bestKey []byte
		for i, s := range sources {
			if s.at >= len(s.Results) && s.More && s.Fetch != nil && s.last != nil && !stuck[s] {
				if ctx.Err() != nil {
					late = true // its next events may be the newest: nothing more can be shown
					break
				}
				p, err := s.Fetch(string(s.last), limit-len(out))
				s.release()
				s.Results, s.Cursors = nil, nil
				if err != nil || p.Host != s.Host {
					p.release()
					stuck[s] = true
				} else {
					s.Page, s.at, s.keyAt = p, 0, 0
				}
			}
			if s.at >= len(s.Results) {
				continue
			}
			k := s.head()
			if best < 0 || bytes.Compare(k, bestKey) > 0 {
				best, bestKey = i, k
			}
		}
		if best < 0 || late {
			break
		}
		s := sources[best]
		if lastKey == nil || !bytes.Equal(bestKey, lastKey) {
			line := s.Results[s.at]
			if len(out) > 0 && size+len(line) > maxBytes {
				break
			}
			if cap(slab)-len(slab) < len(line) {
				// Slabs: a page of 1,000 lines costs a few allocations.
				// When the budget has no room for one, lines are taken one
				// by one until it is spent; the page then ends there (it
				// holds one line whatever its size).
				n := max(64<<10, len(line))
				if !b.Take(n) {
					n = len(line)
					if !b.Take(n) {
						if len(out) > 0 {
							break
						}
						b.Force(n)
					}
				}
				slab = make([]byte, 0, n)
			}
			slab = append(slab, line...)
			out = append(out, slab[len(slab)-len(line):len(slab):len(slab)])
			size += len(line)
			lastKey = append(lastKey[:0], bestKey...)
			if t, ok := timeOf(line); ok {
				next.Before = t
			}
		}
		if s.at < len(s.Cursors) {
			s.last = append(s.last[:0], s.Cursors[s.at]...)
		}
		s.at++
	}
	for _, s := range sources {
		if s.last != nil {
			next.Pods[s.Host] = string(s.last)
		}
	}
	more := false
	for _, s := range sources {
		switch {
		case s.at < len(s.Results) || s.More:
			more = true
		default:
			next.Pods[s.Host] = Done // every event it has was shown
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
