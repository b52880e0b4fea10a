package rules_test

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/rules"
)

func FuzzEvaluate(f *testing.F) {
	for _, tc := range defaultCases {
		f.Add(tc.in.Method, tc.in.Path, tc.in.Status, tc.in.Track, tc.in.Action, tc.in.Level)
	}
	r := mustCompile(f, rules.DefaultPolicy())
	f.Fuzz(func(t *testing.T, method, p string, status int, track, action, level string) {
		in := rules.Input{Method: method, Path: p, Status: status, Track: track, Action: action, Level: level}
		got := r.Evaluate(in)
		checkDecision(t, r, in, got)

		// Matching the raw path besides the cleaned one only adds tracking:
		// whatever the cleaned path gets, the raw one gets too.
		clean := in
		clean.Path = path.Clean("/" + p)
		if c := r.Evaluate(clean); c.Tracked && c != got && len(p) < 4000 {
			t.Errorf("Evaluate(%+v) = %+v, but %+v with the path cleaned", in, got, c)
		}
		// The fast path of cleaning must agree with path.Clean.
		if a, b := rules.Resource(p), rules.Resource(clean.Path); a != b {
			t.Errorf("Resource(%q) = %q, but %q cleaned", p, a, b)
		}
	})
}

// checkDecision asserts the invariants every Decision holds, whatever the
// policy.
func checkDecision(t *testing.T, r *rules.Rules, in rules.Input, got rules.Decision) {
	t.Helper()
	override := strings.EqualFold(in.Track, "true") || strings.EqualFold(in.Track, "false")
	switch {
	case strings.EqualFold(in.Track, "false") && got.Tracked:
		t.Errorf("Evaluate(%+v) tracked despite X-Audit-Track false", in)
	case strings.EqualFold(in.Track, "true") && !got.Tracked:
		t.Errorf("Evaluate(%+v) not tracked despite X-Audit-Track true", in)
	case !override && r.Ignored(in.Path) && got.Tracked:
		t.Errorf("Evaluate(%+v) tracked an ignored path", in)
	case !override && r.TrackedBeforeResponse(in.Method, in.Path) && !got.Tracked:
		t.Errorf("Evaluate(%+v) not tracked, but TrackedBeforeResponse said it would be", in)
	}
	if !got.Tracked {
		if got != (rules.Decision{}) {
			t.Errorf("Evaluate(%+v) = %+v; want the zero Decision when not tracked", in, got)
		}
		return
	}
	if got.Level != "info" && got.Level != "error" {
		t.Errorf("Evaluate(%+v).Level = %q; want info or error", in, got.Level)
	}
	if l := strings.ToLower(in.Level); (l == "info" || l == "error") && got.Level != l {
		t.Errorf("Evaluate(%+v).Level = %q; want the upstream's", in, got.Level)
	}
	if got.Action == "" {
		t.Errorf("Evaluate(%+v).Action is empty", in)
	}
	if in.Action != "" && got.Action != in.Action {
		t.Errorf("Evaluate(%+v).Action = %q; want the upstream's", in, got.Action)
	}
}

func FuzzCompile(f *testing.F) {
	for _, g := range []string{
		"/ak/api/**", "/api/v[123]/proxy{,/**}", "/a/[", "/a/{b,c", `/a\`, "/x/", "x", "",
		"/[!a-z]*/?", "/{a,{b,c}}/**/*.log", "/[]]", "/[z-a]", `/a\{b`, "/**/**/**a",
	} {
		f.Add(g, "{service}.{resource}.{verb}")
	}
	f.Add("/a", "{segment}.{method}")
	f.Add("/a", "{service")
	f.Add("/a", "}{")
	f.Fuzz(func(t *testing.T, glob, template string) {
		policy := rules.Policy{
			Service:        "svc",
			Methods:        []string{"POST"},
			Always:         []string{glob},
			IgnoreRoutes:   []string{glob + "/ignored"},
			Actions:        []rules.ActionRule{{Path: glob, Action: template}},
			ActionTemplate: template,
		}
		r, err := rules.Compile(policy)
		if err != nil {
			var fe *rules.FieldError
			if !errors.As(err, &fe) || fe.Key == "" || fe.Err == nil {
				t.Fatalf("Compile(%q, %q) = %v; want a *FieldError naming a key", glob, template, err)
			}
			if r != nil {
				t.Fatalf("Compile returned Rules with an error")
			}
			return
		}
		for _, p := range []string{glob, glob + "/ignored", "/", "/a/b", glob + "/x/../y"} {
			for _, in := range []rules.Input{
				{Method: "GET", Path: p, Status: 200},
				{Method: "POST", Path: p, Status: 500},
				{Method: "GET", Path: p, Track: "true"},
			} {
				checkDecision(t, r, in, r.Evaluate(in))
			}
		}
		// A path matching the glob literally is always tracked (unless also
		// ignored), with the rule's action.
		if d := r.Evaluate(rules.Input{Method: "GET", Path: glob, Status: 200}); !strings.ContainsAny(glob, `*?[]{}\`) &&
			path.Clean(glob) == glob && !r.Ignored(glob) && !d.Tracked {
			t.Errorf("Evaluate(GET %q) not tracked by track.always %q", glob, glob)
		}
	})
}
