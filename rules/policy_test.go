package rules_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gobwas/glob"

	"github.com/trailcar/trailcar/rules"
)

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*rules.Policy)
		key     string
		value   string
		message string // a part of the error's text
	}{
		{"empty method", func(p *rules.Policy) { p.Methods = []string{""} }, "track.methods[0]", "", "not an HTTP method"},
		{"method with space", func(p *rules.Policy) { p.Methods = []string{"POST", "PUT", "PATCH", "GET POST"} }, "track.methods[3]", "GET POST", "not an HTTP method"},
		{"bad glob", func(p *rules.Policy) { p.Always = []string{"/ok", "/a/["} }, "track.always[1]", "/a/[", "syntax error"},
		{"unclosed alternatives", func(p *rules.Policy) { p.Always = []string{"/a/{b,c"} }, "track.always[0]", "/a/{b,c", "unclosed"},
		{"always without slash", func(p *rules.Policy) { p.Always = []string{"auth/login"} }, "track.always[0]", "auth/login", `must start with "/"`},
		{"status 99", func(p *rules.Policy) { p.Statuses = []int{99} }, "track.statuses[0]", "99", "100 to 599"},
		{"status 600", func(p *rules.Policy) { p.Statuses = []int{400, 600} }, "track.statuses[1]", "600", "100 to 599"},
		{"ignore without slash", func(p *rules.Policy) { p.IgnoreRoutes = []string{"api/v3/proxy/**"} }, "ignore_routes[0]", "api/v3/proxy/**", `must start with "/"`},
		{"ignore empty", func(p *rules.Policy) { p.IgnoreRoutes = []string{"/x", ""} }, "ignore_routes[1]", "", `must start with "/"`},
		{"ignore trailing slash", func(p *rules.Policy) { p.IgnoreRoutes = []string{"/api/v3/proxy/"} }, "ignore_routes[0]", "/api/v3/proxy/", "never matches"},
		{"stars multiply", func(p *rules.Policy) { p.Always = []string{"/api/*-*-*"} }, "track.always[0]", "/api/*-*-*", "more than 1 * or **"},
		{"stars multiply across segments", func(p *rules.Policy) { p.IgnoreRoutes = []string{"/*-*/*-*"} }, "ignore_routes[0]", "/*-*/*-*", "more than 1 * or **"},
		{"fuzzer's hang", func(p *rules.Policy) { p.IgnoreRoutes = []string{"/*0*0*0*0*0*"} }, "ignore_routes[0]", "/*0*0*0*0*0*", "polynomial"},
		{"stars in alternatives", func(p *rules.Policy) { p.Actions[2].Path = "/{*a,*b}" }, "actions[2].path", "/{*a,*b}", "more than 1 * or **"},
		{"alternatives multiply", func(p *rules.Policy) { p.Always = []string{"/" + strings.Repeat("{a,b}", 9)} }, "track.always[0]", "/" + strings.Repeat("{a,b}", 9), "more than 256 ways"},
		{"alternatives multiply a free star", func(p *rules.Policy) { p.Always = []string{"/" + strings.Repeat("{-,-}", 5) + "*-*"} }, "track.always[0]", "/" + strings.Repeat("{-,-}", 5) + "*-*", "more than 16 ways"},
		{"rule path without slash", func(p *rules.Policy) { p.Actions[2].Path = "components" }, "actions[2].path", "components", `must start with "/"`},
		{"rule bad glob", func(p *rules.Policy) { p.Actions[1].Path = `/a\` }, "actions[1].path", `/a\`, "syntax error"},
		{"rule bad method", func(p *rules.Policy) { p.Actions[2].Methods = []string{"POST", "P(ST"} }, "actions[2].methods[1]", "P(ST", "not an HTTP method"},
		{"rule empty action", func(p *rules.Policy) { p.Actions[1].Action = "" }, "actions[1].action", "", "must not be empty"},
		{"rule unknown placeholder", func(p *rules.Policy) { p.Actions[0].Action = "console.{user}.login" }, "actions[0].action", "console.{user}.login", "unknown placeholder {user}"},
		{"level warn", func(p *rules.Policy) { p.Actions[0].Level = "warn" }, "actions[0].level", "warn", `must be "info" or "error"`},
		{"level in capitals", func(p *rules.Policy) { p.Actions[2].Level = "INFO" }, "actions[2].level", "INFO", `must be "info" or "error"`},
		{"template unknown placeholder", func(p *rules.Policy) { p.ActionTemplate = "{service}.{resource}.{action}" }, "action_template", "{service}.{resource}.{action}", "unknown placeholder {action}"},
		{"template unclosed brace", func(p *rules.Policy) { p.ActionTemplate = "{service}.{verb" }, "action_template", "{service}.{verb", `unclosed "{" at offset 10`},
		{"template unmatched brace", func(p *rules.Policy) { p.ActionTemplate = "{service}}" }, "action_template", "{service}}", `unmatched "}" at offset 9`},
		{"template nested brace", func(p *rules.Policy) { p.ActionTemplate = "{{verb}}" }, "action_template", "{{verb}}", "unknown placeholder {{verb}"},
		{"template empty", func(p *rules.Policy) { p.ActionTemplate = "" }, "action_template", "", "must not be empty"},
		{"template of empty service", func(p *rules.Policy) { p.Service, p.ActionTemplate = "", "{service}" }, "action_template", "{service}", "service is empty"},
		{"first bad key wins", func(p *rules.Policy) {
			p.ActionTemplate = "{x}"
			p.IgnoreRoutes = []string{"x"}
			p.Statuses = []int{0}
		}, "track.statuses[0]", "0", "100 to 599"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rules.DefaultPolicy()
			tc.edit(&p)
			r, err := rules.Compile(p)
			var fe *rules.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile = %v, %v; want a *FieldError", r, err)
			}
			if r != nil {
				t.Errorf("Compile returned Rules with an error")
			}
			if fe.Key != tc.key || fe.Value != tc.value {
				t.Errorf("FieldError{Key: %q, Value: %q}; want {Key: %q, Value: %q}", fe.Key, fe.Value, tc.key, tc.value)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
}

func TestFieldErrorFormat(t *testing.T) {
	p := rules.DefaultPolicy()
	p.Always = []string{"/ok", "/a/["}
	_, err := rules.Compile(p)
	if want := `track.always[1]: "/a/[": glob: syntax error at 4: `; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q; want it to start with %q", err, want)
	}
	var syntax *glob.SyntaxError
	if !errors.As(err, &syntax) {
		t.Errorf("errors.As(%v, *glob.SyntaxError) = false; want the glob's error unwrapped", err)
	}
}

func TestCompileValid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy rules.Policy
	}{
		{"default policy", rules.DefaultPolicy()},
		{"only a template", rules.Policy{ActionTemplate: "app.{resource}.{verb}"}},
		{"constant template", rules.Policy{Service: "s", ActionTemplate: "{service}.request"}},
		{"all statuses", rules.Policy{Statuses: []int{100, 599}, ActionTemplate: "a"}},
		{"extension method", rules.Policy{Methods: []string{"propfind", "M-SEARCH"}, ActionTemplate: "a"}},
		{"root pattern", rules.Policy{Always: []string{"/"}, ActionTemplate: "a"}},
		{"escaped brace", rules.Policy{IgnoreRoutes: []string{`/a\{b`}, ActionTemplate: "a"}},
		{"one star per segment", rules.Policy{Always: []string{"/a/*/b/*/c/*"}, ActionTemplate: "a"}},
		{"stars ending segments", rules.Policy{Always: []string{"/**/*/**/x/**"}, ActionTemplate: "a"}},
		{"one free star", rules.Policy{Always: []string{"/api/*-*/x", "/**/*.json", "/**.js"}, ActionTemplate: "a"}},
		{"stars ending alternatives", rules.Policy{Always: []string{"/x{,/**}", "/{a/*,b/**}/c", "/{a*,b}"}, ActionTemplate: "a"}},
		{"escaped and classed stars", rules.Policy{Always: []string{`/\*x\*y*`, "/[*]a[*]b*"}, ActionTemplate: "a"}},
		{"256 ways", rules.Policy{Always: []string{"/" + strings.Repeat("{a,b}", 8)}, ActionTemplate: "a"}},
		{"16 ways with a free star", rules.Policy{Always: []string{"/{static,assets}/**/*.{js,css,map,svg,png,ico,woff,woff2}"}, ActionTemplate: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rules.Compile(tc.policy); err != nil {
				t.Errorf("Compile: %v", err)
			}
		})
	}
}

func TestEmptyPolicyTracksNothing(t *testing.T) {
	r := mustCompile(t, rules.Policy{ActionTemplate: "app.{resource}.{verb}"})
	for _, in := range []rules.Input{
		{Method: "POST", Path: "/a", Status: 500},
		{Method: "DELETE", Path: "/", Status: 0},
	} {
		if got := r.Evaluate(in); got.Tracked {
			t.Errorf("Evaluate(%+v) = %+v; want not tracked", in, got)
		}
	}
	if got := r.Evaluate(rules.Input{Method: "POST", Path: "/a/b", Track: "true"}); got != tracked("app.a.create", "error") {
		t.Errorf("Evaluate with X-Audit-Track = %+v; want tracked", got)
	}
}
