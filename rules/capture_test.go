package rules_test

import (
	"errors"
	"testing"

	"github.com/trailcar/trailcar/rules"
)

func TestCapture(t *testing.T) {
	p := rules.DefaultPolicy()
	p.Capture = []rules.CaptureRule{
		{Path: "/auth/login", Request: false, Response: false}, // never a login's body
		{Path: "/api/v[123]/components{,/**}", Methods: []string{"post", "PUT"}, Request: true, MaxBytes: 100},
		{Path: "/api/**", Request: true, Response: true},
	}
	r := mustCompile(t, p)
	cases := []struct {
		name, method, path string
		want               rules.Capture
	}{
		{"first match", "POST", "/api/v3/components", rules.Capture{Request: true, MaxBytes: 100}},
		{"method any case", "put", "/api/v1/components/c1", rules.Capture{Request: true, MaxBytes: 100}},
		{"other method falls through", "GET", "/api/v1/components/c1", rules.Capture{Request: true, Response: true, MaxBytes: rules.DefaultCaptureBytes}},
		{"cleaned path", "POST", "/api//v3/x/../components", rules.Capture{Request: true, MaxBytes: 100}},
		{"an empty rule keeps later ones off", "POST", "/auth/login", rules.Capture{}},
		{"no rule", "POST", "/other", rules.Capture{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.Route(c.method, c.path, "").Capture(); got != c.want {
				t.Errorf("Capture() = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	cases := []struct {
		name string
		rule rules.CaptureRule
		key  string
	}{
		{"relative path", rules.CaptureRule{Path: "api/x"}, "capture[0].path"},
		{"bad method", rules.CaptureRule{Path: "/x", Methods: []string{"P OST"}}, "capture[0].methods[0]"},
		{"negative max", rules.CaptureRule{Path: "/x", MaxBytes: -1}, "capture[0].max_bytes"},
		{"max too big", rules.CaptureRule{Path: "/x", MaxBytes: rules.MaxCaptureBytes + 1}, "capture[0].max_bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := rules.DefaultPolicy()
			p.Capture = []rules.CaptureRule{c.rule}
			_, err := rules.Compile(p)
			var fe *rules.FieldError
			if !errors.As(err, &fe) || fe.Key != c.key {
				t.Fatalf("Compile: %v, want a FieldError for %s", err, c.key)
			}
		})
	}
}

// A GET routed against rules that capture only writes costs nothing more.
func TestCaptureRouteAllocs(t *testing.T) {
	p := rules.DefaultPolicy()
	p.Capture = []rules.CaptureRule{{Path: "/api/**", Methods: []string{"POST"}, Request: true}}
	r := mustCompile(t, p)
	if n := testing.AllocsPerRun(100, func() { r.Route("GET", "/api/v3/components", "") }); n != 0 {
		t.Errorf("Route allocates %v times", n)
	}
}
