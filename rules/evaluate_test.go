package rules_test

import (
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rules"
)

func mustCompile(t testing.TB, p rules.Policy) *rules.Rules {
	t.Helper()
	r, err := rules.Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

type evaluateCase struct {
	name string
	in   rules.Input
	want rules.Decision
}

// notTracked is the Decision of every request that does not become an event.
var notTracked = rules.Decision{}

func tracked(action, level string) rules.Decision {
	return rules.Decision{Tracked: true, Action: action, Level: level}
}

// defaultCases run against rules.DefaultPolicy; they also seed FuzzEvaluate.
var defaultCases = []evaluateCase{
	// Step 4 and 3 of §3.1: methods, always, statuses.
	{"GET not tracked", rules.Input{Method: "GET", Path: "/api/v3/components", Status: 200}, notTracked},
	{"404 not in statuses", rules.Input{Method: "GET", Path: "/api/v3/widgets", Status: 404}, notTracked},
	{"POST by rule", rules.Input{Method: "POST", Path: "/api/v3/components", Status: 201}, tracked("console.components.create", "info")},
	{"POST below rule path", rules.Input{Method: "POST", Path: "/api/v1/components/c1/start", Status: 200}, tracked("console.components.create", "info")},
	{"PUT skips POST-only rule", rules.Input{Method: "PUT", Path: "/api/v3/components/c1", Status: 200}, tracked("console.components.update", "info")},
	{"DELETE by template", rules.Input{Method: "DELETE", Path: "/api/v2/widgets/w1", Status: 204}, tracked("console.widgets.delete", "info")},
	{"PATCH is configure", rules.Input{Method: "PATCH", Path: "/api/v3/widgets/w1", Status: 200}, tracked("console.widgets.configure", "info")},
	{"403 GET tracked", rules.Input{Method: "GET", Path: "/api/v3/widgets", Status: 403}, tracked("console.widgets.read", "error")},
	{"400 GET tracked", rules.Input{Method: "GET", Path: "/api/v3/widgets/w1", Status: 400}, tracked("console.widgets.read", "error")},
	{"login GET always", rules.Input{Method: "GET", Path: "/auth/login", Status: 200}, tracked("console.users.login", "info")},
	{"logout POST", rules.Input{Method: "POST", Path: "/auth/logout", Status: 302}, tracked("console.users.logout", "info")},
	{"ak always", rules.Input{Method: "GET", Path: "/ak/api/v1/components/status", Status: 200}, tracked("console.components.read", "info")},
	{"ak root", rules.Input{Method: "GET", Path: "/ak/api/v1", Status: 200}, tracked("console.root.read", "info")},
	{"log file always", rules.Input{Method: "GET", Path: "/api/v1/logs/audit.log", Status: 200}, tracked("console.logs.read", "info")},
	{"root", rules.Input{Method: "GET", Path: "/", Status: 403}, tracked("console.root.read", "error")},
	{"empty path is root", rules.Input{Method: "GET", Path: "", Status: 401}, tracked("console.root.read", "error")},

	// Step 2: ignore_routes win over step 3.
	{"ignored wins over statuses", rules.Input{Method: "GET", Path: "/api/v3/proxy/x", Status: 401}, notTracked},
	{"ignored wins over methods", rules.Input{Method: "POST", Path: "/api/v3/proxy", Status: 200}, notTracked},
	{"ignored below proxy", rules.Input{Method: "DELETE", Path: "/api/v2/proxy/a/b/c", Status: 200}, notTracked},
	{"logs list ignored", rules.Input{Method: "GET", Path: "/api/v1/logs", Status: 403}, notTracked},
	{"components status ignored", rules.Input{Method: "POST", Path: "/api/v3/components/status", Status: 200}, notTracked},
	{"grpcwp ignored", rules.Input{Method: "POST", Path: "/grpcwp/x.Service/Call", Status: 200}, notTracked},
	{"proxy prefix is not proxy", rules.Input{Method: "POST", Path: "/api/v3/proxyx", Status: 200}, tracked("console.proxyx.create", "info")},
	{"v4 is not in the class", rules.Input{Method: "POST", Path: "/api/v4/proxy/x", Status: 200}, tracked("console.proxy.create", "info")},
	{"/x/** does not match /x", rules.Input{Method: "POST", Path: "/grpcwp", Status: 200}, tracked("console.grpcwp.create", "info")},
	{"status/x not ignored", rules.Input{Method: "POST", Path: "/api/v3/components/status/x", Status: 200}, tracked("console.components.create", "info")},

	// Step 1: the upstream's X-Audit-Track wins.
	{"track true on ignored", rules.Input{Method: "GET", Path: "/api/v3/proxy/x", Status: 200, Track: "true"}, tracked("console.proxy.read", "info")},
	{"track TRUE any case", rules.Input{Method: "GET", Path: "/api/v3/widgets", Status: 200, Track: "TRUE"}, tracked("console.widgets.read", "info")},
	{"track false on POST", rules.Input{Method: "POST", Path: "/api/v3/components", Status: 201, Track: "false"}, notTracked},
	{"track False on always", rules.Input{Method: "GET", Path: "/auth/login", Status: 401, Track: "False"}, notTracked},
	{"track junk ignored", rules.Input{Method: "POST", Path: "/api/v3/widgets", Status: 201, Track: "yes"}, tracked("console.widgets.create", "info")},
	{"track junk on ignored", rules.Input{Method: "POST", Path: "/api/v3/proxy", Status: 201, Track: "1"}, notTracked},

	// Action and level.
	{"action header", rules.Input{Method: "POST", Path: "/api/v3/components", Status: 201, Action: "console.components.import"}, tracked("console.components.import", "info")},
	{"action header with track", rules.Input{Method: "GET", Path: "/api/v3/proxy/ca", Status: 200, Track: "true", Action: "console.ca.enroll"}, tracked("console.ca.enroll", "info")},
	{"500 is error", rules.Input{Method: "POST", Path: "/api/v3/widgets", Status: 500}, tracked("console.widgets.create", "error")},
	{"no response is error", rules.Input{Method: "DELETE", Path: "/api/v3/widgets/w1", Status: 0}, tracked("console.widgets.delete", "error")},
	{"399 is info", rules.Input{Method: "PUT", Path: "/api/v3/widgets/w1", Status: 399}, tracked("console.widgets.update", "info")},
	{"level header info on 500", rules.Input{Method: "POST", Path: "/api/v3/widgets", Status: 500, Level: "info"}, tracked("console.widgets.create", "info")},
	{"level header ERROR on 200", rules.Input{Method: "POST", Path: "/api/v3/widgets", Status: 200, Level: "ERROR"}, tracked("console.widgets.create", "error")},
	{"level header junk ignored", rules.Input{Method: "POST", Path: "/api/v3/widgets", Status: 200, Level: "warn"}, tracked("console.widgets.create", "info")},

	// Methods.
	{"lower-case post tracked", rules.Input{Method: "post", Path: "/api/v3/widgets", Status: 201}, tracked("console.widgets.create", "info")},
	{"lower-case post by rule", rules.Input{Method: "post", Path: "/api/v3/components", Status: 201}, tracked("console.components.create", "info")},
	{"empty method is GET", rules.Input{Method: "", Path: "/api/v3/widgets", Status: 403}, tracked("console.widgets.read", "error")},
	{"other method lower-cased", rules.Input{Method: "PROPFIND", Path: "/dav/files", Status: 401}, tracked("console.dav.propfind", "error")},

	// Paths are matched cleaned.
	{"dot-dot out of ignored", rules.Input{Method: "GET", Path: "/api/v3/proxy/../logs/audit.log", Status: 200}, tracked("console.logs.read", "info")},
	{"dot-dot out of ignored to rule", rules.Input{Method: "POST", Path: "/api/v3/proxy/../components", Status: 201}, tracked("console.components.create", "info")},
	{"dot-dot into ignored still tracked", rules.Input{Method: "POST", Path: "/api/v3/components/../proxy/x", Status: 200}, tracked("console.proxy.create", "info")},
	{"dot-dot within ignored: not canonical, never ignored", rules.Input{Method: "POST", Path: "/api/v3/proxy/a/../b", Status: 401},
		rules.Decision{Tracked: true, Action: "console.proxy.create", Level: "error"}},
	{"..; (Tomcat path parameter) out of ignored", rules.Input{Method: "POST", Path: "/api/v3/proxy/..;/components", Sent: "/api/v3/proxy/..;/components", Status: 201},
		rules.Decision{Tracked: true, Action: "console.proxy.create", Level: "info"}},
	{"%2e%2e out of ignored", rules.Input{Method: "POST", Path: "/api/v3/proxy/../components", Sent: "/api/v3/proxy/%2e%2e/components", Status: 201},
		rules.Decision{Tracked: true, Action: "console.components.create", Level: "info"}},
	{"%5c out of ignored", rules.Input{Method: "POST", Path: `/api/v3/proxy/..\components`, Sent: "/api/v3/proxy/..%5ccomponents", Status: 201},
		rules.Decision{Tracked: true, Action: "console.proxy.create", Level: "info"}},
	{"double encoded %252e", rules.Input{Method: "POST", Path: "/api/v3/proxy/%2e%2e/components", Sent: "/api/v3/proxy/%252e%252e/components", Status: 201},
		rules.Decision{Tracked: true, Action: "console.proxy.create", Level: "info"}},
	{"%2f inside a segment", rules.Input{Method: "POST", Path: "/api/v3/proxy/../components", Sent: "/api/v3/proxy%2f..%2fcomponents", Status: 201},
		rules.Decision{Tracked: true, Action: "console.components.create", Level: "info"}},
	{"encoded ordinary letters stay canonical", rules.Input{Method: "POST", Path: "/api/v3/proxy/x", Sent: "/api/v3/pro%78y/x", Status: 201}, notTracked},
	{"track.always in any case", rules.Input{Method: "GET", Path: "/AK/API/v1/things", Status: 200},
		rules.Decision{Tracked: true, Action: "console.things.read", Level: "info"}},
	{"raw form in always", rules.Input{Method: "GET", Path: "/api/v3/logs/../components", Status: 200}, tracked("console.components.read", "info")},
	{"dot-dot above root", rules.Input{Method: "GET", Path: "/../../auth/login", Status: 200}, tracked("console.users.login", "info")},
	{"dot segment", rules.Input{Method: "GET", Path: "/api/v3/./logs/x", Status: 200}, tracked("console.logs.read", "info")},
	{"double slashes into ignored still tracked", rules.Input{Method: "POST", Path: "//api/v3//proxy/x", Status: 200}, tracked("console.proxy.create", "info")},
	{"double slash within ignored: not canonical, never ignored", rules.Input{Method: "POST", Path: "/grpcwp//x", Status: 200},
		rules.Decision{Tracked: true, Action: "console.grpcwp.create", Level: "info"}},
	{"double slashes to always", rules.Input{Method: "GET", Path: "//ak//api/v1//widgets", Status: 200}, tracked("console.widgets.read", "info")},
	{"double slash in log path", rules.Input{Method: "GET", Path: "/api/v3/logs//audit.log", Status: 200}, tracked("console.logs.read", "info")},
	{"trailing slash: raw form in always", rules.Input{Method: "GET", Path: "/api/v1/logs/", Status: 200}, tracked("console.logs.read", "info")},
	{"relative path rooted", rules.Input{Method: "POST", Path: "api/v3/widgets", Status: 201}, tracked("console.widgets.create", "info")},
}

func TestEvaluateDefaultPolicy(t *testing.T) {
	p := rules.DefaultPolicy()
	p.ResourceTemplate = "" // resources: TestResources
	r := mustCompile(t, p)
	for _, tc := range defaultCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Evaluate(tc.in); got != tc.want {
				t.Errorf("Evaluate(%+v) = %+v; want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestEvaluateCustomPolicy(t *testing.T) {
	r := mustCompile(t, rules.Policy{
		Service:      "shop",
		Methods:      []string{"delete"},
		Always:       []string{"/orders/*"},
		Statuses:     []int{500},
		IgnoreRoutes: []string{"/health{,z}"},
		Actions: []rules.ActionRule{
			{Path: "/orders/*", Methods: []string{"get", "HEAD"}, Action: "{service}.orders.view", Level: "info"},
			{Path: "/admin/**", Action: "{service}.admin.{segment}.{method}", Level: "error"},
		},
		ActionTemplate: "{service}:{resource}:{verb}:{segment}:{method}",
	})
	for _, tc := range []evaluateCase{
		{"always within segment", rules.Input{Method: "GET", Path: "/orders/o1", Status: 200}, tracked("shop.orders.view", "info")},
		{"rule level over status", rules.Input{Method: "GET", Path: "/orders/o1", Status: 500}, tracked("shop.orders.view", "info")},
		{"header level over rule", rules.Input{Method: "GET", Path: "/orders/o1", Status: 200, Level: "Error"}, tracked("shop.orders.view", "error")},
		{"rule methods upper-cased", rules.Input{Method: "head", Path: "/orders/o1", Status: 200}, tracked("shop.orders.view", "info")},
		{"always not across segments", rules.Input{Method: "GET", Path: "/orders/o1/items", Status: 200}, notTracked},
		{"rule with placeholders", rules.Input{Method: "DELETE", Path: "/admin/users/u1", Status: 200}, tracked("shop.admin.u1.delete", "error")},
		{"rule method mismatch falls to template", rules.Input{Method: "PUT", Path: "/orders/o1", Status: 200}, tracked("shop:orders:update:o1:put", "info")},
		{"every placeholder", rules.Input{Method: "MKCOL", Path: "/api/v2/x/y", Status: 500}, tracked("shop:x:mkcol:y:mkcol", "error")},
		{"segment of root", rules.Input{Method: "Delete", Path: "/", Status: 200}, tracked("shop:root:delete:root:delete", "info")},
		{"ignored alternative empty", rules.Input{Method: "DELETE", Path: "/health", Status: 500}, notTracked},
		{"ignored alternative z", rules.Input{Method: "DELETE", Path: "/healthz", Status: 500}, notTracked},
		{"not ignored", rules.Input{Method: "GET", Path: "/healthy", Status: 500}, tracked("shop:healthy:read:healthy:get", "error")},
		{"POST not tracked here", rules.Input{Method: "POST", Path: "/carts", Status: 201}, notTracked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Evaluate(tc.in); got != tc.want {
				t.Errorf("Evaluate(%+v) = %+v; want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestTrackedBeforeResponse(t *testing.T) {
	r := mustCompile(t, rules.DefaultPolicy())
	for _, tc := range []struct {
		name, method, path string
		want               bool
	}{
		{"tracked method", "POST", "/api/v3/components", true},
		{"lower-case method", "delete", "/api/v3/widgets/w1", true},
		{"untracked method", "GET", "/api/v3/components", false},
		{"status unknown yet", "GET", "/api/v3/widgets", false},
		{"always", "GET", "/ak/api/v1/x", true},
		{"login", "GET", "/auth/login", true},
		{"ignored", "POST", "/api/v3/proxy/x", false},
		{"ignored logs list", "GET", "/api/v2/logs", false},
		{"log file", "GET", "/api/v2/logs/audit.log", true},
		{"dot-dot out of ignored", "POST", "/api/v3/proxy/../components", true},
		{"double slash out of ignored", "PUT", "/api/v3//proxy", true},
		{"too long to match", "GET", "/api/v3/proxy/" + strings.Repeat("x", 4<<10), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.TrackedBeforeResponse(tc.method, tc.path); got != tc.want {
				t.Errorf("TrackedBeforeResponse(%q, %q) = %t; want %t", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestIgnored(t *testing.T) {
	r := mustCompile(t, rules.DefaultPolicy())
	for _, tc := range []struct {
		name, path string
		want       bool
	}{
		{"proxy", "/api/v3/proxy", true},
		{"below proxy", "/api/v1/proxy/a/b", true},
		{"proxy trailing slash: an empty segment, not canonical", "/api/v1/proxy/", false},
		{"proxy prefix", "/api/v1/proxyx", false},
		{"grpcwp itself", "/grpcwp", false},
		{"below grpcwp", "/grpcwp/a", true},
		{"configtxlator", "/configtxlator/decode", true},
		{"components status", "/api/v2/components/status", true},
		{"components", "/api/v2/components", false},
		{"logs list", "/api/v3/logs", true},
		{"log file", "/api/v3/logs/audit.log", false},
		{"dot-dot out", "/api/v3/proxy/../components", false},
		{"dot-dot in: raw form not ignored", "/x/../api/v3/proxy", false},
		{"dot-dot within: not canonical", "/api/v3/proxy/a/../b", false},
		{"double slash in: raw form not ignored", "//grpcwp//a", false},
		{"double slash within: not canonical", "/grpcwp//a", false},
		{"too long to match", "/api/v3/proxy/" + strings.Repeat("x", 4<<10), false},
		{"root", "/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Ignored(tc.path); got != tc.want {
				t.Errorf("Ignored(%q) = %t; want %t", tc.path, got, tc.want)
			}
		})
	}
}

func TestEvaluateLongPath(t *testing.T) {
	r := mustCompile(t, rules.DefaultPolicy())
	long := strings.Repeat("/x", 2<<10)
	for _, tc := range []evaluateCase{
		{"ignored route", rules.Input{Method: "GET", Path: "/api/v3/proxy" + long, Status: 200}, tracked("console.proxy.read", "info")},
		{"rule skipped", rules.Input{Method: "POST", Path: "/api/v3/components" + long, Status: 201}, tracked("console.components.create", "info")},
		{"login rule skipped", rules.Input{Method: "GET", Path: "/auth/login/" + long, Status: 200}, tracked("console.auth.read", "info")},
		{"track false still wins", rules.Input{Method: "GET", Path: long, Status: 200, Track: "false"}, notTracked},
		{"4 KiB is matched", rules.Input{Method: "GET", Path: "/api/v3/proxy" + long[:4<<10-len("/api/v3/proxy")], Status: 200}, notTracked},
		{"a byte more is not", rules.Input{Method: "GET", Path: "/api/v3/proxy" + long[:4<<10-len("/api/v3/proxy")+1], Status: 200}, tracked("console.proxy.read", "info")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Evaluate(tc.in); got != tc.want {
				t.Errorf("Evaluate(%.40q…) = %+v; want %+v", tc.in.Path, got, tc.want)
			}
		})
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	if sidecartest.RaceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so matching allocates")
	}
	r := mustCompile(t, rules.DefaultPolicy())
	for _, tc := range []struct {
		name string
		in   rules.Input
	}{
		{"not tracked", rules.Input{Method: "GET", Path: "/api/v3/components", Status: 200}},
		{"ignored", rules.Input{Method: "POST", Path: "/api/v3/proxy/x/y", Status: 200}},
		{"constant action", rules.Input{Method: "POST", Path: "/api/v3/components", Status: 201}},
		{"cached template", rules.Input{Method: "DELETE", Path: "/api/v2/widgets/w1", Status: 204}},
		{"upstream action", rules.Input{Method: "PUT", Path: "/api/v2/widgets/w1", Status: 200, Action: "x.y.z", Level: "ERROR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.Evaluate(tc.in) // renders and caches the action, if any
			if n := testing.AllocsPerRun(100, func() { r.Evaluate(tc.in) }); n != 0 {
				t.Errorf("Evaluate(%+v) allocates %v times; want 0", tc.in, n)
			}
		})
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	// Run with -race: the rendered-action cache is shared by all callers.
	p := rules.DefaultPolicy()
	p.ResourceTemplate = "" // resources: TestResources
	r := mustCompile(t, p)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				tc := defaultCases[(g+i)%len(defaultCases)]
				if got := r.Evaluate(tc.in); got != tc.want {
					t.Errorf("%s: Evaluate = %+v; want %+v", tc.name, got, tc.want)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
