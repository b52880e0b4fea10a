package event

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/glob"
)

// Filter selects events (README "Commands" filters). The zero Filter matches every
// event. The same Filter serves the events API, the event stream, and the
// CLI reading files directly.
type Filter struct {
	Since  time.Time // inclusive; zero: no lower bound
	Before time.Time // exclusive; zero: no upper bound

	Level, Service, Host, Outcome, Method string // exact; "" matches all
	User                                  string // creds.name or creds.uuid
	Type, Action, Resource                string // globs; see Glob
	Status                                string // "404", or a class "4xx"

	typ, action, resource *glob.Pattern
	statusExact           int
	statusClass           int // 1-5 for "1xx".."5xx"
}

// FilterParams are the parameter (and CLI flag) names of a Filter, in the
// order they are documented.
var FilterParams = []string{"since", "before", "level", "service", "host", "type", "action", "user", "outcome", "method", "status", "resource"}

// ParamError is a bad filter parameter; Param names it.
type ParamError struct {
	Param, Value string
	Err          error
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: %q: %v", e.Param, e.Value, e.Err)
}

func (e *ParamError) Unwrap() error { return e.Err }

// ParseFilter reads the filter parameters of q (other keys are ignored) and
// compiles the Filter. Errors are *ParamError.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for _, p := range FilterParams {
		if v := q.Get(p); v != "" {
			if err := f.Set(p, v); err != nil {
				return Filter{}, err
			}
		}
	}
	return f, f.Compile()
}

// Set sets one parameter by name, checking its value.
func (f *Filter) Set(param, value string) error {
	bad := func(err error) error { return &ParamError{Param: param, Value: value, Err: err} }
	switch param {
	case "since", "before":
		t, err := ParseTime(value)
		if err != nil {
			return bad(err)
		}
		if param == "since" {
			f.Since = t
		} else {
			f.Before = t
		}
	case "level":
		if value != LevelInfo && value != LevelError {
			return bad(errors.New("want info or error"))
		}
		f.Level = value
	case "outcome":
		if value != OutcomeSuccess && value != OutcomeFailure {
			return bad(errors.New("want success or failure"))
		}
		f.Outcome = value
	case "service":
		f.Service = value
	case "host":
		f.Host = value
	case "user":
		f.User = value
	case "method":
		f.Method = strings.ToUpper(value)
	case "type":
		f.Type = value
	case "action":
		f.Action = value
	case "resource":
		f.Resource = value
	case "status":
		f.Status = value
	default:
		return bad(errors.New("unknown filter"))
	}
	return nil
}

// ParseTime parses RFC 3339 with an optional fraction, e.g.
// 2026-11-22T08:00:00Z or 2026-11-22T08:00:00.5+01:00.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 time, e.g. 2026-11-22T08:00:00Z")
	}
	return t.UTC(), nil
}

// Compile checks the parameters together and compiles the globs; Set
// already checked each alone. It must be called before Match.
func (f *Filter) Compile() error {
	if !f.Since.IsZero() && !f.Before.IsZero() && !f.Since.Before(f.Before) {
		return &ParamError{Param: "since", Value: FormatTime(f.Since), Err: errors.New("must be before the 'before' time")}
	}
	var err error
	compile := func(param, pattern string, g **glob.Pattern) {
		if err != nil || pattern == "" {
			return
		}
		if *g, err = glob.Compile(pattern, '/'); err != nil {
			err = &ParamError{Param: param, Value: pattern, Err: fmt.Errorf("bad glob: %v", err)}
		}
	}
	compile("type", f.Type, &f.typ)
	compile("action", f.Action, &f.action)
	compile("resource", f.Resource, &f.resource)
	if err != nil {
		return err
	}
	f.statusExact, f.statusClass = 0, 0
	if s := f.Status; s != "" {
		if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
			f.statusClass = int(s[0] - '0')
		} else if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
			f.statusExact = n
		} else {
			return &ParamError{Param: "status", Value: s, Err: errors.New("want a status like 404 or a class like 4xx")}
		}
	}
	return nil
}

// IsZero reports whether f matches every event.
func (f *Filter) IsZero() bool {
	return f.Since.IsZero() && f.Before.IsZero() && f.Level == "" && f.Service == "" && f.Host == "" &&
		f.Outcome == "" && f.Method == "" && f.User == "" && f.Type == "" && f.Action == "" &&
		f.Resource == "" && f.Status == ""
}

// Match reports whether e passes f. f must be compiled.
func (f *Filter) Match(e *Event) bool {
	if !f.MatchTime(e.Time) {
		return false
	}
	switch {
	case f.Level != "" && e.Level != f.Level,
		f.Service != "" && e.Service != f.Service,
		f.Host != "" && e.Host != f.Host,
		f.Outcome != "" && e.Outcome != f.Outcome,
		f.Method != "" && e.Req.Method != f.Method,
		f.User != "" && e.Creds.Name != f.User && e.Creds.UUID != f.User,
		f.typ != nil && !f.typ.Match(e.Type),
		f.action != nil && !f.action.Match(e.Action):
		return false
	}
	if f.statusExact != 0 && e.Res.StatusCode != f.statusExact {
		return false
	}
	if f.statusClass != 0 && e.Res.StatusCode/100 != f.statusClass {
		return false
	}
	if f.resource != nil {
		subject := e.Resource.ID
		if subject == "" {
			subject = e.Req.Path
		}
		if !f.resource.Match(subject) {
			return false
		}
	}
	return true
}

// MatchTime reports whether t is inside [Since, Before).
func (f *Filter) MatchTime(t time.Time) bool {
	if !f.Since.IsZero() && t.Before(f.Since) {
		return false
	}
	return f.Before.IsZero() || t.Before(f.Before)
}

// Query returns f as URL parameters (for the CLI talking to a server).
func (f *Filter) Query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Before.IsZero() {
		q.Set("before", f.Before.Format(time.RFC3339Nano))
	}
	set("level", f.Level)
	set("service", f.Service)
	set("host", f.Host)
	set("type", f.Type)
	set("action", f.Action)
	set("user", f.User)
	set("outcome", f.Outcome)
	set("method", f.Method)
	set("status", f.Status)
	set("resource", f.Resource)
	return q
}
