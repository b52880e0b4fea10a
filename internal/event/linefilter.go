package event

import "unsafe"

// Verdict is what a LineFilter says about one line.
type Verdict uint8

// Verdicts.
const (
	NoMatch Verdict = iota // the line decodes and does not pass the filter
	Matched                // the line decodes and passes the filter
	Invalid                // the line does not decode (torn, edited, not an event)
)

// LineFilter applies a compiled Filter to encoded lines. Lines in
// AppendJSON's layout are judged on their bytes (ScanLine) without a
// decode; others are decoded. A LineFilter is not safe for concurrent use:
// it keeps scratch space.
type LineFilter struct {
	f             *Filter
	since, before string // TimeText bounds; "" when unset
	fields        Fields
	ev            Event
	decoded       bool
	typed         []byte // "TYPE:ID" of the line, for a resource glob with a ":"
}

// NewLineFilter returns a LineFilter for f, which must be compiled.
func NewLineFilter(f *Filter) *LineFilter {
	lf := &LineFilter{f: f}
	if !f.Since.IsZero() {
		lf.since = TimeText(f.Since)
	}
	if !f.Before.IsZero() {
		lf.before = TimeText(f.Before)
	}
	return lf
}

// Match judges line (without its newline). The verdict is exactly that of
// Decode followed by Filter.Match.
func (lf *LineFilter) Match(line []byte) Verdict {
	lf.decoded = false
	if ScanLine(line, &lf.fields) {
		if m, sure := lf.matchFields(&lf.fields); sure {
			if m {
				return Matched
			}
			return NoMatch
		}
	}
	lf.decoded = true
	if err := Decode(line, &lf.ev); err != nil {
		return Invalid
	}
	if lf.f.Match(&lf.ev) {
		return Matched
	}
	return NoMatch
}

// Decoded returns the event the last Match decoded, or nil when it judged
// the line on its bytes (the line is then exactly as AppendJSON writes
// it). The event is overwritten by the next Match.
func (lf *LineFilter) Decoded() *Event {
	if !lf.decoded {
		return nil
	}
	return &lf.ev
}

// matchFields is Filter.Match on fields. sure is false when the answer
// depends on a field whose bytes are not its decoded value.
func (lf *LineFilter) matchFields(fl *Fields) (match, sure bool) {
	f := lf.f
	if lf.since != "" && string(fl.Time) < lf.since || lf.before != "" && string(fl.Time) >= lf.before {
		return false, true
	}
	// A criterion failed on exact bytes decides; one failed on inexact
	// bytes only makes the answer unsure.
	var unsure fieldSet
	fails := func(failed bool, fields fieldSet) bool {
		if !failed {
			unsure |= fl.inexact & fields // a raw match may be a decoded mismatch
			return false
		}
		if fl.inexact&fields == 0 {
			return true
		}
		unsure |= fields
		return false
	}
	neq := func(want string, got []byte) bool { return string(got) != want }
	if f.Level != "" && fails(neq(f.Level, fl.Level), fLevel) ||
		f.Service != "" && fails(neq(f.Service, fl.Service), fService) ||
		f.Host != "" && fails(neq(f.Host, fl.Host), fHost) ||
		f.Outcome != "" && fails(neq(f.Outcome, fl.Outcome), fOutcome) ||
		f.Method != "" && fails(neq(f.Method, fl.Method), fMethod) ||
		f.User != "" && fails(neq(f.User, fl.CredsName) && neq(f.User, fl.CredsUUID), fCredsName|fCredsUUID) ||
		f.typ != nil && fails(!globMatch(f.typ.Match, fl.Type), fType) ||
		f.action != nil && fails(!globMatch(f.action.Match, fl.Action), fAction) ||
		f.resourceType != nil && fails(len(fl.ResourceType) == 0 || !globMatch(f.resourceType.Match, fl.ResourceType), fResourceType) {
		return false, true
	}
	if f.statusExact != 0 && fl.Status != f.statusExact || f.statusClass != 0 && fl.Status/100 != f.statusClass {
		return false, true
	}
	if f.resource != nil {
		// As Filter.Match. An escape decodes to at least one character,
		// so emptiness is exact.
		subject, field := fl.ResourceID, fResourceID
		switch {
		case f.resourcePath || len(fl.ResourceID) == 0 && len(fl.ResourceType) == 0:
			subject, field = fl.Path, fPath
		case f.resourceTyped:
			if fl.inexact&(fResourceType|fResourceID) != 0 {
				return false, false // decode, then judge
			}
			lf.typed = append(append(append(lf.typed[:0], fl.ResourceType...), ':'), fl.ResourceID...)
			subject = lf.typed
		}
		if fails(!globMatch(f.resource.Match, subject), field) {
			return false, true
		}
	}
	return unsure == 0, unsure == 0
}

// globMatch matches a glob against bytes without copying them: the
// matcher only reads the string during the call.
func globMatch(match func(string) bool, b []byte) bool {
	if len(b) == 0 {
		return match("")
	}
	return match(unsafe.String(&b[0], len(b)))
}
