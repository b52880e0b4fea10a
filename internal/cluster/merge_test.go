package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/cluster"
)

// line is an event line in the encoder's layout (id, then eventTime).
func line(sec int, id byte) []byte {
	return fmt.Appendf(nil, `{"id":"%s","eventTime":"2026-12-03T07:00:%02d.000000Z","type":"http"}`, strings.Repeat(string(id), 32), sec)
}

// pod serves its events (newest first) in pages of n, as a pod answers.
func pod(host string, events [][]byte) func(after string, n int) (cluster.Page, error) {
	return func(after string, n int) (cluster.Page, error) {
		start := 0
		if after != "" {
			fmt.Sscanf(after, "%d", &start)
		}
		end := min(start+n, len(events))
		p := cluster.Page{Host: host, Results: events[start:end], More: end < len(events)}
		for i := start; i < end; i++ {
			p.Cursors = append(p.Cursors, fmt.Append(nil, i+1))
		}
		return p, nil
	}
}

// TestMergePages: three pods with interleaved and skewed events, paged 4
// at a time with small first chunks: newest first, each event once, and
// the cursor survives encoding.
func TestMergePages(t *testing.T) {
	pods := map[string][][]byte{}
	var want []string
	for sec := 59; sec >= 0; sec-- {
		host := []string{"a", "b", "c"}[sec%3]
		if sec > 40 {
			host = "a" // skewed: the newest all on one pod
		}
		id := byte('0' + sec%10)
		if sec%7 == 0 {
			id = byte('a' + sec%6)
		}
		pods[host] = append(pods[host], line(sec, id))
		want = append(want, string(line(sec, id)))
	}
	var got []string
	var prev cluster.Cursor
	for page := 0; page < 100; page++ {
		var sources []*cluster.Source
		for _, h := range []string{"a", "b", "c"} {
			fetch := pod(h, pods[h])
			after := ""
			if c, ok := prev.Pods[h]; ok {
				if c == cluster.Done {
					continue
				}
				after = c
			}
			p, _ := fetch(after, 2)
			sources = append(sources, &cluster.Source{Page: p, Fetch: fetch})
		}
		out, next := cluster.Merge(t.Context(), sources, 4, 1<<20, prev, cluster.NewBudget(1<<20))
		for _, l := range out {
			got = append(got, string(l))
		}
		if next == nil {
			break
		}
		c, err := cluster.ParseCursor(next.String())
		if err != nil {
			t.Fatal(err)
		}
		prev = c
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d in order", len(got), len(want))
	}
}

// TestMergeBounds: a page ends early (with a cursor that goes on from
// there) before the line that would pass maxBytes or the budget; every
// page a source gave is released, once, and the lines shown are copies
// that outlive their pages.
func TestMergeBounds(t *testing.T) {
	var events [][]byte
	for sec := 59; sec >= 0; sec-- {
		events = append(events, line(sec, "0123456789abcdef"[sec%16]))
	}
	size := len(events[0])
	tests := []struct {
		name             string
		maxBytes, budget int
		perPage          int
	}{
		{"maxBytes", 5*size + size/2, 1 << 20, 5},
		{"budget", 1 << 20, 20*size + size/2, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fetched, released := 0, 0
			serve := pod("a", events)
			fetch := func(after string, n int) (cluster.Page, error) {
				p, err := serve(after, n)
				// The page's own copy, wiped when released: a line shown
				// that still pointed into it would read as zeros.
				body := make([]byte, 0)
				p.Results = slices.Clone(p.Results)
				for i, l := range p.Results {
					body = append(body, l...)
					p.Results[i] = body[len(body)-len(l):]
				}
				fetched++
				p.Release = func() {
					released++
					clear(body)
				}
				return p, err
			}
			var got []string
			var prev cluster.Cursor
			for page := 0; page < 100; page++ {
				after := prev.Pods["a"]
				if after == cluster.Done {
					break
				}
				first, _ := fetch(after, 3)
				out, next := cluster.Merge(t.Context(), []*cluster.Source{{Page: first, Fetch: fetch}}, 1000, tt.maxBytes, prev, cluster.NewBudget(tt.budget))
				if want := min(tt.perPage, len(events)-len(got)); len(out) != want {
					t.Fatalf("page %d: %d lines, want %d", page, len(out), want)
				}
				for _, l := range out {
					got = append(got, string(l))
				}
				if next == nil {
					break
				}
				prev = *next
			}
			if fetched != released {
				t.Errorf("%d pages fetched, %d released", fetched, released)
			}
			for i, l := range got {
				if l != string(events[i]) {
					t.Fatalf("line %d: %q, want %q", i, l, events[i])
				}
			}
			if len(got) != len(events) {
				t.Fatalf("%d lines in all, want %d", len(got), len(events))
			}
		})
	}
}

func TestPageRoundTrip(t *testing.T) {
	p := cluster.Page{Host: "pod-1", More: true, Results: [][]byte{line(3, 'a'), line(2, 'b')}, Cursors: [][]byte{[]byte("c1"), []byte("c2")}}
	q, err := cluster.ParsePage(cluster.AppendPage(nil, p))
	if err != nil || q.Host != p.Host || !q.More || len(q.Results) != 2 || string(q.Results[1]) != string(p.Results[1]) || string(q.Cursors[1]) != "c2" {
		t.Fatalf("%+v %v", q, err)
	}
	for _, bad := range []string{"", "{}\n", `{"host":"a"}` + "\nno-tab\n", `{"host":"a"}` + "\nc\tnot json\n",
		// padding no trailcar sends: a header or a cursor over 1 KiB
		`{"host":"a","pad":"` + strings.Repeat("x", 1<<10) + `"}` + "\nc\t" + string(line(1, 'a')) + "\n",
		`{"host":"a"}` + "\n" + strings.Repeat("c", 1<<10+1) + "\t" + string(line(1, 'a')) + "\n"} {
		if _, err := cluster.ParsePage([]byte(bad)); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(cluster.Cursor{Pods: map[string]string{"a": "x", "b": cluster.Done}, Before: "2026-12-03T07:00:00.000000Z"}.String())
	f.Add("c1.e30")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := cluster.ParseCursor(s)
		if err != nil {
			return
		}
		if _, err := cluster.ParseCursor(c.String()); err != nil {
			t.Fatalf("a parsed cursor does not round-trip: %v", err)
		}
	})
}

func FuzzParsePage(f *testing.F) {
	f.Add(cluster.AppendPage(nil, cluster.Page{Host: "h", Results: [][]byte{line(1, 'a')}, Cursors: [][]byte{[]byte("c")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := cluster.ParsePage(b)
		if err == nil && (len(p.Results) != len(p.Cursors) || p.Host == "") {
			t.Fatalf("%+v", p)
		}
	})
}

// TestMergeEndsAtDeadline: past the query's deadline a source that must
// be asked again is not asked: the page ends there, every source keeping
// its place (the older events of the others wait for the next page).
func TestMergeEndsAtDeadline(t *testing.T) {
	newer, older := pod("a", [][]byte{line(50, 'a'), line(40, 'b'), line(30, 'c')}), pod("b", [][]byte{line(20, 'd'), line(10, 'e')})
	first, _ := newer("", 2)
	rest, _ := older("", 2)
	asked := 0
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out, next := cluster.Merge(ctx, []*cluster.Source{
		{Page: first, Fetch: func(after string, n int) (cluster.Page, error) { asked++; return newer(after, n) }},
		{Page: rest, Fetch: older},
	}, 10, 1<<20, cluster.Cursor{}, cluster.NewBudget(1<<20))
	if len(out) != 2 || asked != 0 || next == nil || next.Pods["a"] != "2" || next.Pods["b"] != "" {
		t.Fatalf("%d lines, asked %d times, next %+v", len(out), asked, next)
	}
}
