// Package pkg cites the docs (docs/events.md "Which requests become events").
package pkg

// Wrapped across lines (docs/events.md "One
// event, one line"), two headings of one file (docs/events.md "One event,
// one line" and "Which requests become events"), the README's own heading
// (README "Guarantees"), a whole file (docs/events.md) and code marks
// dropped (docs/events.md "creds and address"). A file name that only ends
// in docs is not a citation: mydocs/x.md.
func F() {}
