package rules_test

import (
	"testing"

	"github.com/trailcar/trailcar/rules"
)

func TestResource(t *testing.T) {
	for _, tc := range []struct {
		name, path, want string
	}{
		{"api version", "/api/v3/widgets/w1", "widgets"},
		{"ak api version", "/ak/api/v1/components/status", "components"},
		{"root", "/", "root"},
		{"empty", "", "root"},
		{"only prefixes", "/ak/api/v2", "root"},
		{"prefixes with trailing slash", "/api/v3/", "root"},
		{"no prefix", "/auth/login", "auth"},
		{"version without api", "/v2/things", "things"},
		{"multi-digit version", "/api/v10/things", "things"},
		{"bare v is a resource", "/api/v/things", "v"},
		{"v1beta1 is a resource", "/api/v1beta1/things", "v1beta1"},
		{"api later is a resource", "/widgets/api/v1", "widgets"},
		{"prefixes in any order", "/v1/api/ak/x", "x"},
		{"any case, as track.always", "/API/V1/x", "x"},
		{"double slashes", "//api//v3//widgets", "widgets"},
		{"dot-dot", "/api/v3/proxy/../components", "components"},
		{"relative", "api/v3/widgets", "widgets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rules.Resource(tc.path); got != tc.want {
				t.Errorf("Resource(%q) = %q; want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestVerb(t *testing.T) {
	for _, tc := range []struct {
		method, want string
	}{
		{"GET", "read"},
		{"POST", "create"},
		{"PUT", "update"},
		{"PATCH", "configure"},
		{"DELETE", "delete"},
		{"get", "read"},
		{"Post", "create"},
		{"", "read"},
		{"HEAD", "head"},
		{"OPTIONS", "options"},
		{"PROPFIND", "propfind"},
		{"M-SEARCH", "m-search"},
		{"mkcol", "mkcol"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			if got := rules.Verb(tc.method); got != tc.want {
				t.Errorf("Verb(%q) = %q; want %q", tc.method, got, tc.want)
			}
		})
	}
}

func TestTemplateCacheIsBounded(t *testing.T) {
	// Distinct resources beyond the cache's bound must still render right.
	p := rules.DefaultPolicy()
	p.ResourceTemplate = "" // resources: TestResources
	r := mustCompile(t, p)
	for i := range 3000 {
		resource := "r" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		want := tracked("console."+resource+".update", "info")
		for range 2 { // rendered, then cached unless full
			if got := r.Evaluate(rules.Input{Method: "PUT", Path: "/api/v3/" + resource + "/x", Status: 200}); got != want {
				t.Fatalf("Evaluate(PUT /api/v3/%s/x) = %+v; want %+v", resource, got, want)
			}
		}
	}
}
