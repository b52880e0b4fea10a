package glob

import "fmt"

// Bounds on the shape of a pattern, so that matching a path stays about
// linear in its length.
//
// gobwas/glob matches by backtracking. A star that ends its segment (`*/`,
// `**/`, or the end of the pattern) has one way to end, at the separator, but
// any other, a free star, has one per position in its reach, and the stars
// multiply: `/*-*-*` takes a second on a 4 KB path, `/*-*/*-*/*-*` on three
// 200-byte segments. Alternatives multiply too: `{a,a}` twenty times over
// takes 0.2 s on a 20-byte path, and 8 such groups before `*-*` take 0.4 s on
// an 8 KB one. Route patterns need none of this; a config that has it is
// refused rather than let clients make every request slow.
const (
	maxFreeStars = 1
	// maxAlternatives bounds the ways the {…} groups of a pattern combine;
	// maxAlternativesFree when the pattern has a free star.
	maxAlternatives     = 256
	maxAlternativesFree = 16
)

// checkCost refuses a pattern, already compiled (so well formed), with more
// than maxFreeStars free stars or whose alternatives combine in too many
// ways. Braces are counted as groups wherever they are, which may overcount:
// the bounds are generous enough for that.
func checkCost(s string) error {
	free, combinations := 0, 1
	var alternatives []int // of each group open at i, innermost last
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			i = classEnd(s, i)
		case '{':
			alternatives = append(alternatives, 1)
		case ',':
			if n := len(alternatives); n > 0 {
				alternatives[n-1]++
			}
		case '}':
			if n := len(alternatives); n > 0 {
				combinations = min(combinations*alternatives[n-1], maxAlternatives+1)
				alternatives = alternatives[:n-1]
			}
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				i++
			}
			if !endsSegment(s, i+1, len(alternatives)) {
				free++
			}
		}
	}
	switch {
	case free > maxFreeStars:
		return fmt.Errorf("more than %d * or ** not followed by / or the end: matching would take time polynomial in the length of the path, which clients choose", maxFreeStars)
	case combinations > maxAlternatives:
		return fmt.Errorf("alternatives combining in more than %d ways: matching would take time exponential in their number", maxAlternatives)
	case free > 0 && combinations > maxAlternativesFree:
		return fmt.Errorf("alternatives combining in more than %d ways with a * or ** not followed by / or the end: matching would take time proportional to their number times the square of the length of the path", maxAlternativesFree)
	}
	return nil
}

// endsSegment reports whether what follows position i of the pattern s,
// inside depth groups, is a separator or the end of the pattern, whichever
// alternative the match goes on with.
func endsSegment(s string, i, depth int) bool {
	for i < len(s) {
		switch {
		case s[i] == '/':
			return true
		case depth > 0 && s[i] == '}':
			i++
			depth--
		case depth > 0 && s[i] == ',':
			i = groupEnd(s, i)
			depth--
		default:
			return false
		}
	}
	return true
}

// groupEnd returns the position just after the "}" closing the group that
// position i is in.
func groupEnd(s string, i int) int {
	depth := 0
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			i = classEnd(s, i)
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i + 1
			}
			depth--
		}
	}
	return len(s)
}

// classEnd returns the position of the "]" closing the class opened at i.
func classEnd(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ']':
			return i
		}
	}
	return len(s)
}
