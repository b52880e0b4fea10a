package event

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/glob"
)

// Filter selects events (docs/cli.md "Filters and times"). The zero Filter matches every
// event. The same Filter serves the events API, the event stream, and the
// CLI reading files directly.
type Filter struct {
	Since  time.Time // inclusive; zero: no lower bound
	Before time.Time // exclusive; zero: no upper bound

	Level, Service, Host, Outcome, Method string // exact; "" matches all
	User                                  string // creds.name or creds.uuid
	Type, Action, Resource                string // globs; see Glob
	ResourceType                          string // glob on resource.type; an event without one never matches
	Status                                string // "404", or a class "4xx"

	// Now resolves durations ("15m": that long before now); nil means
	// time.Now. A duration is resolved when it is set, once, so every
	// page and every peer of one question shares one absolute time.
	Now func() time.Time

	typ, action, resource *glob.Pattern
	resourceType          *glob.Pattern
	// resourcePath: the resource glob starts with "/" and is matched
	// against req.path; resourceTyped: it holds a ":" and is matched
	// against "TYPE:ID".
	resourcePath, resourceTyped bool
	statusExact                 int
	statusClass                 int // 1-5 for "1xx".."5xx"
}

// FilterParams are the parameter (and CLI flag) names of a Filter, in the
// order they are documented.
var FilterParams = []string{"since", "before", "level", "service", "host", "type", "action", "user", "outcome", "method", "status", "resource", "resource_type"}

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
		now := time.Now
		if f.Now != nil {
			now = f.Now
		}
		t, err := ParseTime(value, now())
		if err != nil {
			return bad(err)
		}
		if param == "since" {
			f.Since = t
		} else {
			f.Before = t
		}
	case "level":
		v := strings.ToLower(value) // anchore-cli users type ERROR
		if v != LevelInfo && v != LevelError {
			return bad(errors.New("want info or error"))
		}
		f.Level = v
	case "outcome":
		v := strings.ToLower(value)
		if v != OutcomeSuccess && v != OutcomeFailure {
			return bad(errors.New("want success or failure"))
		}
		f.Outcome = v
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
	case "resource_type":
		f.ResourceType = value
	case "status":
		f.Status = value
	default:
		return bad(errors.New("unknown filter"))
	}
	return nil
}

// ParseTime parses a time as the filters take it (docs/cli.md "Filters and
// times"): RFC 3339 with an optional fraction (2026-11-22T08:00:00Z,
// 2026-11-22T08:00:00.5+01:00); ISO 8601 without a zone, taken as UTC, as
// anchore-cli users type it (2026-11-22T08:00:00, fraction optional); the
// same with a space, as journalctl users type it (2026-11-22 08:00, seconds
// optional), also UTC; a date, its midnight UTC (2026-11-22); now, today
// and yesterday (midnight UTC); or a duration back from now in Go's syntax
// plus d for days (90s, 15m, 1h30m, 7d, 1d12h), with or without
// journalctl's minus sign (-1h).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	midnight := now.UTC().Truncate(24 * time.Hour)
	switch s {
	case "now":
		return now.UTC(), nil
	case "today":
		return midnight, nil
	case "yesterday":
		return midnight.AddDate(0, 0, -1), nil
	}
	if d, ok := parseAgo(strings.TrimPrefix(s, "-")); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, errors.New("want a time (2026-11-22T08:00:00Z; in UTC 2026-11-22T08:00:00, 2026-11-22 08:00 or 2026-11-22; now, today, yesterday) or a duration back from now (15m, -1h, 7d)")
}

// parseAgo parses a positive Go duration, with d (24h) allowed as a unit
// and no sign.
func parseAgo(s string) (time.Duration, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || n < 0 {
			return 0, false
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	total := time.Duration(days)*24*time.Hour + d
	if total <= 0 || days > 365*100 {
		return 0, false
	}
	return total, true
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
		// The same compile and cost bounds as the config's globs: a filter
		// glob is matched against paths clients chose.
		if *g, err = glob.Compile(pattern); err != nil {
			err = &ParamError{Param: param, Value: pattern, Err: fmt.Errorf("bad glob: %v", err)}
		}
	}
	compile("type", f.Type, &f.typ)
	compile("action", f.Action, &f.action)
	compile("resource", f.Resource, &f.resource)
	compile("resource_type", f.ResourceType, &f.resourceType)
	f.resourcePath = strings.HasPrefix(f.Resource, "/")
	f.resourceTyped = !f.resourcePath && strings.Contains(f.Resource, ":")
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
		f.Resource == "" && f.ResourceType == "" && f.Status == ""
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
		f.action != nil && !f.action.Match(e.Action),
		f.resourceType != nil && (e.Resource.Type == "" || !f.resourceType.Match(e.Resource.Type)):
		return false
	}
	if f.statusExact != 0 && e.Res.StatusCode != f.statusExact {
		return false
	}
	if f.statusClass != 0 && e.Res.StatusCode/100 != f.statusClass {
		return false
	}
	if f.resource != nil {
		// docs/cli.md "Filters and times": a glob that starts with "/" is a path;
		// any other names resource.id (TYPE:ID when it holds a ":"), or
		// the path of an event without a resource.
		var subject string
		switch {
		case f.resourcePath || e.Resource == (Resource{}):
			subject = e.Req.Path
		case f.resourceTyped:
			subject = e.Resource.Type + ":" + e.Resource.ID
		default:
			subject = e.Resource.ID
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
	set("resource_type", f.ResourceType)
	return q
}
