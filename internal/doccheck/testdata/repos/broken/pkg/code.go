// Package pkg cites the docs (docs/events.md "Which requests are events").
package pkg

// Wrapped across lines (docs/events.md "One
// event, one lines"), two headings of one file (docs/events.md "One event,
// one line" and "Which requests"), a missing file (docs/gone.md), a heading
// only in a fence (README "Fenced"), a heading of a file that is not
// Markdown (docs/events.txt "Top").
func F() {}
