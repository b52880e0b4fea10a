package rules

import (
	"cmp"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
)

// Input is what Evaluate needs to know of a request and its response.
type Input struct {
	// Method and Path are the request's, Path decoded (url.URL.Path). Path
	// is matched both as is and cleaned; see Evaluate.
	Method, Path string
	// Sent is the path as the client sent it, still escaped
	// (url.URL.EscapedPath); "" means Path. A path not sent in canonical
	// form is never ignored: see Canonical.
	Sent string
	// Status is the status answered to the client; 0 when there was no
	// response.
	Status int
	// Track is the X-Audit-Track response header, "" when absent: "true" or
	// "false" in any case; anything else is ignored.
	Track string
	// Action is the X-Audit-Action response header, "" when absent.
	Action string
	// Level is the X-Audit-Level response header, "" when absent: "info" or
	// "error" in any case; anything else is ignored.
	Level string
	// Location is the answer's Location header, "" when absent; it names
	// the resource of a 201 ({id}, {location}).
	Location string
}

// Decision is the outcome of Evaluate. Action and Level are set only when
// Tracked; Level is then "info" or "error" and Action is not empty.
type Decision struct {
	Tracked       bool
	Action, Level string
	// ResourceType and ResourceID are the resource of the matching
	// actions rule, else of resource_template; "" type: none. The
	// caller's X-Audit-Resource wins over both.
	ResourceType, ResourceID string
}

// Evaluate decides whether a request becomes an event (docs/events.md "Which requests become events"), in this
// order: the upstream's X-Audit-Track wins; else a path in ignore_routes is
// not tracked; else it is tracked when its path matches track.always, its
// method is in track.methods or its status in track.statuses; else it is not.
//
// The action is the upstream's X-Audit-Action, else that of the first
// actions rule matching the path and method, else action_template rendered.
// The level is the upstream's X-Audit-Level, else the matching rule's, else
// "error" for a status of 400 and above or no response, "info" otherwise.
//
// Paths are matched both as sent and cleaned (path.Clean: "//" collapsed,
// "." and ".." resolved), whichever tracks more: a path is ignored only when
// both forms match ignore_routes, and is in track.always when either form
// matches. A request for /api/v3/proxy/../components thus cannot dodge
// tracking by passing for an ignored proxy route, whether or not the upstream
// cleans paths before routing them. The actions rules, {resource} and
// {segment} use the cleaned path; the caller logs the raw one. A path longer
// than 4 KiB is not matched at all: it is tracked, with the template's action.
//
// Evaluate is pure and safe for concurrent use. It does not allocate unless
// the path needs cleaning or it renders an action for the first time. It is
// Route and Decide in one call.
func (r *Rules) Evaluate(in Input) Decision {
	return r.Decide(r.Route(in.Method, in.Path, in.Sent), in)
}

// Route is what the rules make of a request before its answer: the path
// matched against the globs, once. A proxy computes it when the request
// arrives and carries it to the answer: whether to refuse it in
// fail_closed mode (TrackedWhatever), whether its answer is tracked
// (Tracked), and its event (Decide) then cost no glob matching.
type Route struct {
	p        requestPath
	method   string // normalized
	ignored  bool   // in ignore_routes
	whatever bool   // not ignored, and in track.always or track.methods
	capture  *captureRule
}

// Route matches a request's method and path (url.URL.Path) against the
// globs; sent is the path as sent, escaped ("" means path).
func (r *Rules) Route(method, path, sent string) Route {
	p := newRequestPath(path)
	rt := Route{p: p, method: normalizeMethod(method), ignored: Canonical(cmp.Or(sent, path)) && r.ignored(p)}
	// The cheap check first: a tracked method spares the matching.
	rt.whatever = !rt.ignored && (containsFold(r.methods, rt.method) || r.inAlways(p))
	if len(r.captures) > 0 {
		rt.capture = r.matchCapture(rt.method, p)
	}
	return rt
}

// TrackedWhatever reports whether the request will be tracked whatever its
// status, unless the upstream says otherwise: its path is not ignored, and
// it is in track.always or its method is tracked. In fail_closed mode such
// a request is refused with 503 before it is forwarded, since its event
// could not be written.
func (rt Route) TrackedWhatever() bool { return rt.whatever }

// Tracked reports whether the request is tracked once answered with
// status, the upstream's X-Audit-Track being track ("" when absent).
func (r *Rules) Tracked(rt Route, status int, track string) bool {
	switch {
	case strings.EqualFold(track, "true"):
		return true
	case strings.EqualFold(track, "false"), rt.ignored:
		return false
	}
	return rt.whatever || r.statuses.has(status)
}

// Decide is Evaluate for a request already routed; in.Method and in.Path
// are not looked at again.
func (r *Rules) Decide(rt Route, in Input) Decision {
	if !r.Tracked(rt, in.Status, in.Track) {
		return Decision{}
	}
	rule := r.matchRule(rt.method, rt.p)
	d := Decision{
		Tracked: true,
		Action:  r.action(in.Action, rule, rt.method, rt.p.clean),
		Level:   level(in, rule),
	}
	tmpl := r.resource
	if rule != nil && rule.resource != nil {
		tmpl = rule.resource
	}
	if tmpl != nil && !rt.p.tooLong() {
		loc := ""
		if in.Status == 201 && in.Location != "" {
			loc = locationSegment(in.Location)
		}
		d.ResourceType, d.ResourceID = tmpl.render(rt.p.clean, loc)
	}
	return d
}

// TrackedBeforeResponse is Route(method, path, path).TrackedWhatever().
func (r *Rules) TrackedBeforeResponse(method, path string) bool {
	return r.Route(method, path, "").TrackedWhatever()
}

// Ignored reports whether the path is in ignore_routes, as Evaluate judges
// it: it is canonical, both the path and its cleaned form match, and it is
// not too long to be matched.
func (r *Rules) Ignored(path string) bool {
	return Canonical(path) && r.ignored(newRequestPath(path))
}

func (r *Rules) ignored(p requestPath) bool {
	return !p.tooLong() && p.matchAll(r.ignore)
}

func (r *Rules) inAlways(p requestPath) bool {
	return p.tooLong() || p.lowered().matchAny(r.always)
}

// matchRule returns the first rule matching the method and the cleaned path,
// or nil.
func (r *Rules) matchRule(method string, p requestPath) *actionRule {
	if p.tooLong() {
		return nil
	}
	for i := range r.actions {
		rule := &r.actions[i]
		if rule.matches(method, p) {
			return rule
		}
	}
	return nil
}

func (r *Rules) action(upstream string, rule *actionRule, method, p string) string {
	switch {
	case upstream != "":
		return upstream
	case rule != nil:
		return rule.action.render(method, p)
	}
	return r.template.render(method, p)
}

func level(in Input, rule *actionRule) string {
	switch {
	case strings.EqualFold(in.Level, levelInfo):
		return levelInfo
	case strings.EqualFold(in.Level, levelError):
		return levelError
	case rule != nil && rule.level != "":
		return rule.level
	}
	return event.LevelFor(event.OutcomeOf(in.Status)) // below 100: no response, an error
}

// containsFold reports whether methods, upper case, holds method in any case.
func containsFold(methods []string, method string) bool {
	for _, m := range methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}
