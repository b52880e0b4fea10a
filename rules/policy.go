package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/trailcar/trailcar/internal/httptoken"
)

// Policy is the tracking policy of activity_tracker (docs/configuration.md "Keys and defaults"). The zero value
// tracks nothing but is not valid: ActionTemplate must be set.
type Policy struct {
	Service        string       // stamped into {service}; config guarantees it is non-empty
	Methods        []string     // track.methods; any case, upper-cased by Compile
	Always         []string     // track.always (globs)
	Statuses       []int        // track.statuses
	IgnoreRoutes   []string     // ignore_routes (globs)
	Actions        []ActionRule // actions: first match wins
	ActionTemplate string       // action_template
	// ResourceTemplate is resource_template: the resource of an event no
	// actions rule and no X-Audit-Resource gave one; "" for none.
	ResourceTemplate string
	// Capture are the capture rules: first match wins.
	Capture []CaptureRule
}

// ActionRule is one entry of activity_tracker.actions; it is embedded as is in
// the YAML config, so keep these tags.
//
// Path is a glob matched like ignore_routes; Methods, when not empty, limit
// the rule to those methods. Action may use the placeholders of
// action_template ({service}, {resource}, {verb}, {segment}, {method}).
// Level, when set, is "info" or "error" and overrides the level derived from
// the status (but not the one the upstream states).
type ActionRule struct {
	Path    string   `yaml:"path"`
	Methods []string `yaml:"methods"`
	Action  string   `yaml:"action"`
	Level   string   `yaml:"level"`
	// Resource, when set, is the event's resource: "TYPE:ID" with
	// {segment}, {segment1}, {segment2}…, {location} (and {resource},
	// {id}, as resource_template).
	Resource string `yaml:"resource"`
}

// FieldError is a bad policy value. Key is the config key relative to
// activity_tracker, e.g. "track.always[1]", "ignore_routes[0]",
// "actions[2].path", "actions[0].level", "action_template",
// "track.methods[3]", "track.statuses[0]"; Value is the offending value as
// written and Err says why it is bad.
type FieldError struct {
	Key, Value string
	Err        error
}

// Error renders the error as `key: "value": why`.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %q: %v", e.Key, e.Value, e.Err)
}

// Unwrap returns the reason, e.g. a *glob.SyntaxError.
func (e *FieldError) Unwrap() error { return e.Err }

// Rules is a compiled [Policy]. It is immutable but for an internal cache of
// rendered actions, and safe for concurrent use.
type Rules struct {
	methods  []string // track.methods, upper case
	always   patternList
	statuses statusSet
	ignore   patternList
	actions  []actionRule
	template *template
	resource *resourceTemplate // nil: resource_template is off
	captures []captureRule
}

// ruleRoute is the part an actions or capture rule matches a request on:
// a path glob (on the cleaned path) and, when not empty, methods.
type ruleRoute struct {
	path    pattern
	methods []string // upper case; empty matches every method
}

// compileRoute compiles a rule's path and methods; key names the rule.
func compileRoute(key, path string, methods []string) (ruleRoute, error) {
	var rt ruleRoute
	var err error
	if rt.path, err = compilePattern(path); err != nil {
		return rt, &FieldError{Key: key + ".path", Value: path, Err: err}
	}
	rt.methods, err = compileMethods(key+".methods", methods)
	return rt, err
}

func (rt *ruleRoute) matches(method string, p requestPath) bool {
	return (len(rt.methods) == 0 || containsFold(rt.methods, method)) && rt.path.match(p.clean)
}

// actionRule is a compiled ActionRule.
type actionRule struct {
	ruleRoute
	action   *template
	level    string            // "" when the rule does not set one
	resource *resourceTemplate // nil when the rule does not set one
}

const (
	levelInfo  = "info"
	levelError = "error"
)

var (
	errEmpty  = errors.New("must not be empty")
	errMethod = errors.New("not an HTTP method (a token of letters, digits and !#$%&'*+-.^_`|~)")
	errStatus = errors.New("not an HTTP status (100 to 599)")
	errLevel  = errors.New(`must be "info" or "error"`)
)

// Compile validates every value of p and compiles it. The error, if any, is
// the first bad value in the order of the config file, as a *FieldError.
func Compile(p Policy) (*Rules, error) {
	r := &Rules{}
	var err error
	if r.methods, err = compileMethods("track.methods", p.Methods); err != nil {
		return nil, err
	}
	// track.always matches in any case (many apps route /AK/API/… as
	// /ak/api/…; when in doubt, track): pattern and path are lowered.
	if r.always, err = compileLowered("track.always", p.Always); err != nil {
		return nil, err
	}
	if r.statuses, err = compileStatuses("track.statuses", p.Statuses); err != nil {
		return nil, err
	}
	if r.ignore, err = compilePatterns("ignore_routes", p.IgnoreRoutes); err != nil {
		return nil, err
	}
	if r.actions, err = compileActions(p.Service, p.Actions); err != nil {
		return nil, err
	}
	if r.template, err = compileTemplate(p.Service, p.ActionTemplate); err != nil {
		return nil, &FieldError{Key: "action_template", Value: p.ActionTemplate, Err: err}
	}
	if p.ResourceTemplate != "" {
		if r.resource, err = compileResource(p.ResourceTemplate, true); err != nil {
			return nil, &FieldError{Key: "resource_template", Value: p.ResourceTemplate, Err: err}
		}
	}
	if r.captures, err = compileCaptures(p.Capture); err != nil {
		return nil, err
	}
	return r, nil
}

func compileMethods(key string, methods []string) ([]string, error) {
	upper := make([]string, len(methods))
	for i, m := range methods {
		if !httptoken.Valid(m) {
			return nil, &FieldError{Key: indexKey(key, i), Value: m, Err: errMethod}
		}
		upper[i] = strings.ToUpper(m)
	}
	return upper, nil
}

func compileStatuses(key string, statuses []int) (statusSet, error) {
	var set statusSet
	for i, s := range statuses {
		if s < 100 || s > 599 {
			return set, &FieldError{Key: indexKey(key, i), Value: strconv.Itoa(s), Err: errStatus}
		}
		set.add(s)
	}
	return set, nil
}

func compileActions(service string, rules []ActionRule) ([]actionRule, error) {
	compiled := make([]actionRule, len(rules))
	for i, rule := range rules {
		key := indexKey("actions", i)
		c := &compiled[i]
		var err error
		if c.ruleRoute, err = compileRoute(key, rule.Path, rule.Methods); err != nil {
			return nil, err
		}
		if c.action, err = compileTemplate(service, rule.Action); err != nil {
			return nil, &FieldError{Key: key + ".action", Value: rule.Action, Err: err}
		}
		switch rule.Level {
		case "", levelInfo, levelError:
			c.level = rule.Level
		default:
			return nil, &FieldError{Key: key + ".level", Value: rule.Level, Err: errLevel}
		}
		if rule.Resource != "" {
			if c.resource, err = compileResource(rule.Resource, false); err != nil {
				return nil, &FieldError{Key: key + ".resource", Value: rule.Resource, Err: err}
			}
		}
	}
	return compiled, nil
}

func indexKey(key string, i int) string {
	return key + "[" + strconv.Itoa(i) + "]"
}

// statusSet is a set of HTTP statuses, 100 to 599, as a bitmap.
type statusSet [10]uint64

func (s *statusSet) add(status int) { s[status/64] |= 1 << (status % 64) }

// has reports whether status is in the set; false for any status outside
// 0–639, such as a missing response's 0.
func (s *statusSet) has(status int) bool {
	return status >= 0 && status < 64*len(s) && s[status/64]&(1<<(status%64)) != 0
}
