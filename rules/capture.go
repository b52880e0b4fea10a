package rules

import (
	"errors"
	"strconv"
)

// CaptureRule is one entry of activity_tracker.capture: which bodies of
// the requests it matches are kept in their event (req.body, res.body). It
// is embedded as is in the YAML config, so keep these tags.
//
// Path is a glob matched like the actions' paths (the cleaned path);
// Methods, when not empty, limit the rule to those methods. A rule with
// neither Request nor Response captures nothing: first match wins, so it
// keeps a later, broader rule off its paths. MaxBytes bounds what is kept
// of each body; 0 means DefaultCaptureBytes.
type CaptureRule struct {
	Path     string   `yaml:"path"`
	Methods  []string `yaml:"methods"`
	Request  bool     `yaml:"request"`
	Response bool     `yaml:"response"`
	MaxBytes int      `yaml:"max_bytes"`
}

// DefaultCaptureBytes is a capture rule's max_bytes when it sets none.
const DefaultCaptureBytes = 4096

// MaxCaptureBytes bounds max_bytes. An event line is at most 256 KiB (a
// longer one has its strings cut, but not its bodies); two bodies kept as
// strings, each byte escaped into at most two, stay well inside it.
const MaxCaptureBytes = 32 << 10

// Capture is what a capture rule asks of one request; the zero value
// captures nothing.
type Capture struct {
	Request, Response bool
	MaxBytes          int
}

// captureRule is a compiled CaptureRule.
type captureRule struct {
	ruleRoute
	capture Capture
}

var errMaxBytes = errors.New("want 0 (the default, " + strconv.Itoa(DefaultCaptureBytes) +
	") or 1 to " + strconv.Itoa(MaxCaptureBytes) + " bytes")

func compileCaptures(rules []CaptureRule) ([]captureRule, error) {
	compiled := make([]captureRule, len(rules))
	for i, rule := range rules {
		key := indexKey("capture", i)
		c := &compiled[i]
		var err error
		if c.ruleRoute, err = compileRoute(key, rule.Path, rule.Methods); err != nil {
			return nil, err
		}
		if rule.MaxBytes < 0 || rule.MaxBytes > MaxCaptureBytes {
			return nil, &FieldError{Key: key + ".max_bytes", Value: strconv.Itoa(rule.MaxBytes), Err: errMaxBytes}
		}
		c.capture = Capture{Request: rule.Request, Response: rule.Response, MaxBytes: rule.MaxBytes}
		if !rule.Request && !rule.Response {
			c.capture = Capture{} // matches, to keep later rules off, and captures nothing
		} else if c.capture.MaxBytes == 0 {
			c.capture.MaxBytes = DefaultCaptureBytes
		}
	}
	return compiled, nil
}

// matchCapture returns the first capture rule matching the method and the
// cleaned path, or nil. The methods are checked first: a rule for writes
// costs a GET no matching.
func (r *Rules) matchCapture(method string, p requestPath) *captureRule {
	if p.tooLong() {
		return nil
	}
	for i := range r.captures {
		rule := &r.captures[i]
		if rule.matches(method, p) {
			return rule
		}
	}
	return nil
}

// Capture is what the capture rules ask of the routed request: the first
// matching rule's bodies and bound, or nothing.
func (rt Route) Capture() Capture {
	if rt.capture == nil {
		return Capture{}
	}
	return rt.capture.capture
}
