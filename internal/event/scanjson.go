package event

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// This file reads generic JSON inside a line: strings, numbers and the
// free objects (details, client_details), checking them as encoding/json
// would, without decoding them.

// maxDepth bounds the nesting ScanLine follows inside free objects; deeper
// lines are left to Decode.
const maxDepth = 32

// value skips any JSON value (white space around it allowed), checking it
// as encoding/json would.
func (s *lineScanner) value(depth int) bool {
	s.space()
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	var ok bool
	switch c := s.b[s.i]; {
	case c == '{':
		ok = s.members(depth, '}', true)
	case c == '[':
		ok = s.members(depth, ']', false)
	case c == '"':
		s.i, _, ok = scanString(s.b, s.i)
	case c == 't':
		ok = s.lit("true")
	case c == 'f':
		ok = s.lit("false")
	case c == 'n':
		ok = s.lit("null")
	default:
		ok = s.number()
	}
	s.space()
	return ok
}

// members reads the inside of an object (keyed) or array and its closer.
func (s *lineScanner) members(depth int, closer byte, keyed bool) bool {
	s.i++
	s.space()
	if s.char(closer) {
		return true
	}
	for {
		if keyed {
			var ok bool
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return false
			}
			if s.i, _, ok = scanString(s.b, s.i); !ok {
				return false
			}
			s.space()
			if !s.char(':') {
				return false
			}
		}
		if !s.value(depth + 1) {
			return false
		}
		if s.char(closer) {
			return true
		}
		if !s.char(',') {
			return false
		}
	}
}

func (s *lineScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// number reads a JSON number (any size: nested numbers are kept raw).
func (s *lineScanner) number() bool {
	s.char('-')
	digits := func() int {
		start := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		return s.i - start
	}
	start := s.i
	n := digits()
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return false
	}
	if s.char('.') && digits() == 0 {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specialMask flags the bytes of w (little endian: b[i] is the low byte)
// that need a look: a quote, a backslash, a control character or a
// non-ASCII byte. A borrow may also flag bytes after a flagged one, but the
// lowest flag is always a byte that needs a look, and none is missed.
func specialMask(w uint64) uint64 {
	quote := w ^ (ones * '"')
	slash := w ^ (ones * '\\')
	return ((w - ones*0x20) | (quote - ones) | (slash - ones) | w) & highs
}

// scanString reads the JSON string starting with the quote at b[i]. It
// returns the index after the closing quote, and whether the raw bytes
// between the quotes are the decoded value (no escape, valid UTF-8). ok
// is false for a string encoding/json would reject (control characters,
// bad escapes, no closing quote).
func scanString(b []byte, i int) (end int, exact, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, false
	}
	start := i + 1
	i = start
	exact = true
	nonASCII := false
	for {
		for i+8 <= len(b) {
			if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0, false, false
		}
		switch c := b[i]; {
		case c == '"':
			if nonASCII && exact && !utf8.Valid(b[start:i]) {
				exact = false
			}
			return i + 1, exact, true
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return 0, false, false
			}
			exact = false
			i += n
		case c < 0x20:
			return 0, false, false
		case c >= utf8.RuneSelf:
			nonASCII = true
			i++
		default:
			i++
		}
	}
}

// escapeLen is the length of the escape at the start of b, 0 if bad.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		for _, c := range b[2:6] {
			if !isHex(c) {
				return 0
			}
		}
		return 6
	}
	return 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
