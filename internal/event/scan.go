package event

import "encoding/binary"

// Fields are the values of one encoded line, read in place by ScanLine:
// the slices point into the line. They are what a Filter looks at.
type Fields struct {
	ID, Time                            []byte
	Type, Level, Service, Host, Outcome []byte
	Action                              []byte
	CredsUUID, CredsName                []byte
	Method, Path                        []byte
	Status                              int
	ResourceType, ResourceID            []byte

	// inexact marks the fields above whose bytes are not their decoded
	// value (the value holds an escape or invalid UTF-8), so a comparison
	// on them must go through Decode.
	inexact fieldSet
	// second is the date and time up to the second of the last valid
	// eventTime: lines in a row mostly share it, and then only the
	// fraction needs checking.
	second [19]byte
}

// Exact reports whether every field's bytes are its decoded value: no
// field holds an escape or invalid UTF-8. Then the bytes can be compared
// as they are.
func (fl *Fields) Exact() bool { return fl.inexact == 0 }

// validTime is ValidTimeText(fl.Time), remembering the last valid second.
func (fl *Fields) validTime() bool {
	t := fl.Time
	if len(t) == TimeLen && string(t[:19]) == string(fl.second[:]) {
		for _, c := range t[20:26] {
			if c < '0' || c > '9' {
				return false
			}
		}
		return t[19] == '.' && t[26] == 'Z'
	}
	if !ValidTimeText(t) {
		return false
	}
	copy(fl.second[:], t)
	return true
}

type fieldSet uint16

const (
	fType fieldSet = 1 << iota
	fLevel
	fService
	fHost
	fOutcome
	fAction
	fCredsUUID
	fCredsName
	fMethod
	fPath
	fResourceType
	fResourceID
)

// ScanLine reads the fields of line (without its newline) in place. It
// reports true only when the line has exactly the layout AppendJSON writes
// (keys in its order, no white space outside the free objects, no
// unknown or repeated keys) and Decode would accept it; then fl holds what Decode
// would return. On false the line may still decode: the caller must use
// Decode. ScanLine allocates nothing.
func ScanLine(line []byte, fl *Fields) bool {
	second := fl.second
	*fl = Fields{second: second}
	s := lineScanner{b: line}
	if !s.key(&keys.id) {
		return false
	}
	var ok bool
	if fl.ID, ok = s.plainString(); !ok || !validIDBytes(fl.ID) {
		return false
	}
	if !s.key(&keys.eventTime) {
		return false
	}
	if fl.Time, ok = s.plainString(); !ok || !fl.validTime() {
		return false
	}
	if !s.keyString(&keys.typ, &fl.Type, fType, &fl.inexact) ||
		!s.keyString(&keys.level, &fl.Level, fLevel, &fl.inexact) ||
		!s.keyString(&keys.service, &fl.Service, fService, &fl.inexact) ||
		!s.keyString(&keys.host, &fl.Host, fHost, &fl.inexact) ||
		!s.keyString(&keys.outcome, &fl.Outcome, fOutcome, &fl.inexact) {
		return false
	}
	return s.optionalFields(fl) && s.char('}') && s.i == len(s.b)
}

// optionalFields reads the fields after the first seven, each optional,
// in AppendJSON's order.
func (s *lineScanner) optionalFields(fl *Fields) bool {
	var scratch []byte
	if s.key(&keys.action) && !s.stringInto(&fl.Action, fAction, &fl.inexact) {
		return false
	}
	if s.key(&keys.creds) && !s.creds(fl) {
		return false
	}
	if s.key(&keys.address) && !s.stringInto(&scratch, 0, &fl.inexact) {
		return false
	}
	if s.key(&keys.req) && !s.request(fl) {
		return false
	}
	if s.key(&keys.res) && !s.response(fl) {
		return false
	}
	if s.key(&keys.duration) && !s.decimal() {
		return false
	}
	if s.key(&keys.message) && !s.stringInto(&scratch, 0, &fl.inexact) {
		return false
	}
	if s.key(&keys.resource) && !s.resource(fl) {
		return false
	}
	if s.key(&keys.details) && !s.value(0) {
		return false
	}
	return true
}

func (s *lineScanner) creds(fl *Fields) bool {
	var scratch []byte
	return s.object(func(k *key) bool {
		switch k {
		case &keys.uuid:
			return s.stringInto(&fl.CredsUUID, fCredsUUID, &fl.inexact)
		case &keys.name:
			return s.stringInto(&fl.CredsName, fCredsName, &fl.inexact)
		default:
			return s.stringInto(&scratch, 0, &fl.inexact)
		}
	}, &keys.uuid, &keys.name, &keys.subType)
}

func (s *lineScanner) request(fl *Fields) bool {
	var scratch []byte
	return s.object(func(k *key) bool {
		switch k {
		case &keys.method:
			return s.stringInto(&fl.Method, fMethod, &fl.inexact)
		case &keys.path:
			return s.stringInto(&fl.Path, fPath, &fl.inexact)
		case &keys.bytes:
			_, ok := s.integer()
			return ok
		case &keys.body:
			return s.value(0)
		case &keys.bodyTruncated:
			return s.lit("true")
		default:
			return s.stringInto(&scratch, 0, &fl.inexact)
		}
	}, &keys.method, &keys.path, &keys.query, &keys.userAgent, &keys.traceID, &keys.bytes, &keys.body, &keys.bodyTruncated)
}

func (s *lineScanner) response(fl *Fields) bool {
	return s.object(func(k *key) bool {
		switch k {
		case &keys.statusCode:
			n, ok := s.integer()
			fl.Status = int(n)
			return ok
		case &keys.bytes:
			_, ok := s.integer()
			return ok
		case &keys.bodyTruncated:
			return s.lit("true")
		default:
			return s.value(0)
		}
	}, &keys.statusCode, &keys.bytes, &keys.clientDetails, &keys.body, &keys.bodyTruncated)
}

func (s *lineScanner) resource(fl *Fields) bool {
	return s.object(func(k *key) bool {
		if k == &keys.subID {
			return s.stringInto(&fl.ResourceID, fResourceID, &fl.inexact)
		}
		return s.stringInto(&fl.ResourceType, fResourceType, &fl.inexact)
	}, &keys.subType, &keys.subID)
}

// lineScanner walks a line; i is the next byte to read.
type lineScanner struct {
	b []byte
	i int
}

// lit consumes lit if the line continues with it.
func (s *lineScanner) lit(lit string) bool {
	if len(s.b)-s.i < len(lit) {
		return false
	}
	// A loop beats a call to memequal for these short literals, and most
	// optional keys that are absent differ at their first letter.
	b := s.b[s.i : s.i+len(lit)]
	for i := 0; i < len(lit); i++ {
		if b[i] != lit[i] {
			return false
		}
	}
	s.i += len(lit)
	return true
}

// validIDBytes is ValidID on bytes, eight at a time.
func validIDBytes(b []byte) bool {
	if len(b) != IDLen {
		return false
	}
	for i := 0; i < IDLen; i += 8 {
		if !hexWord(binary.LittleEndian.Uint64(b[i:])) {
			return false
		}
	}
	return true
}

// hexWord reports whether the 8 bytes of w are all lowercase hex digits.
// above(n) has the high bit of each byte set where that byte (< 0x80) is
// greater than n; there are no carries between bytes.
func hexWord(w uint64) bool {
	if w&highs != 0 {
		return false
	}
	above := func(n uint64) uint64 { return (w + ones*(0x7f-n)) & highs }
	digit := above('0'-1) &^ above('9')
	letter := above('a'-1) &^ above('f')
	return digit|letter == highs
}

// object reads {"k1":v1,"k2":v2} where the keys are a subsequence of keys,
// in that order; value reads the value of the key it is given.
func (s *lineScanner) object(value func(k *key) bool, expected ...*key) bool {
	if !s.char('{') {
		return false
	}
	first := true
	for _, k := range expected {
		if !first && !s.char(',') {
			break
		}
		if !s.key(k) {
			if !first {
				s.i-- // give the comma back: the next key may follow it
			}
			continue
		}
		first = false
		if !value(k) {
			return false
		}
	}
	return s.char('}')
}

// keyString reads key then a string value into v, marking it inexact.
func (s *lineScanner) keyString(k *key, v *[]byte, f fieldSet, inexact *fieldSet) bool {
	return s.key(k) && s.stringInto(v, f, inexact)
}

// stringInto reads a string value into v; if its bytes are not its decoded
// value, f is added to inexact.
func (s *lineScanner) stringInto(v *[]byte, f fieldSet, inexact *fieldSet) bool {
	start := s.i + 1
	end, exact, ok := scanString(s.b, s.i)
	if !ok {
		return false
	}
	*v = s.b[start : end-1]
	if !exact {
		*inexact |= f
	}
	s.i = end
	return true
}

// plainString reads a string that must need no decoding (ids, times).
func (s *lineScanner) plainString() ([]byte, bool) {
	var v []byte
	var inexact fieldSet
	if !s.stringInto(&v, 1, &inexact) || inexact != 0 {
		return nil, false
	}
	return v, true
}

// integer reads an integer as encoding/json would into an int64 (or int),
// limited to 18 digits so that it cannot overflow.
func (s *lineScanner) integer() (int64, bool) {
	neg := s.char('-')
	start := s.i
	var n int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// decimal reads a number without exponent, as AppendFloat 'f' writes it,
// small enough for a float64.
func (s *lineScanner) decimal() bool {
	if _, ok := s.integer(); !ok {
		return false
	}
	if !s.char('.') {
		return true
	}
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
