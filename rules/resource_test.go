package rules_test

import (
	"errors"
	"testing"

	"github.com/trailcar/trailcar/rules"
)

func TestResources(t *testing.T) {
	policy := rules.DefaultPolicy()
	policy.Methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	policy.Actions = append(policy.Actions,
		rules.ActionRule{Path: "/api/v1/channels/*/peers/*", Action: "console.peers.join", Resource: "channel-peers:{segment2}/{segment}"},
		rules.ActionRule{Path: "/orders", Methods: []string{"POST"}, Action: "shop.orders.place", Resource: "orders:{location}"},
		rules.ActionRule{Path: "/static/**", Action: "shop.static.read", Resource: "assets"},
	)
	r, err := rules.Compile(policy)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		status       int
		location     string
		typ, id      string
	}{
		{"PATCH", "/posts/2", 200, "", "posts", "2"},
		{"POST", "/posts", 201, "/posts/17", "posts", "17"},
		{"POST", "/posts", 201, "http://app:3000/posts/18?x=1#f", "posts", "18"},
		{"POST", "/posts", 201, "/posts/a%20b/", "posts", "a b"},
		{"POST", "/posts", 200, "/posts/17", "posts", ""}, // a Location names a resource only with 201
		{"GET", "/api/v3/widgets/w1/parts", 200, "", "widgets", "w1"},
		{"GET", "/ak/api/v1/components", 200, "", "components", ""},
		{"GET", "/", 200, "", "", ""},
		{"DELETE", "/api/v3/widgets//w2", 200, "", "widgets", "w2"}, // the cleaned path
		{"POST", "/api/v1/channels/ch1/peers/p9", 201, "", "channel-peers", "ch1/p9"},
		{"POST", "/orders", 201, "/orders/o-5", "orders", "o-5"},
		{"POST", "/orders", 500, "", "orders", ""},
		{"GET", "/static/app.js", 200, "", "assets", ""},
	}
	for _, tt := range tests {
		d := r.Evaluate(rules.Input{Method: tt.method, Path: tt.path, Status: tt.status, Location: tt.location})
		if !d.Tracked || d.ResourceType != tt.typ || d.ResourceID != tt.id {
			t.Errorf("%s %s %d (Location %q): resource %q:%q (tracked %v), want %q:%q",
				tt.method, tt.path, tt.status, tt.location, d.ResourceType, d.ResourceID, d.Tracked, tt.typ, tt.id)
		}
	}

	policy.ResourceTemplate = ""
	off, _ := rules.Compile(policy)
	if d := off.Evaluate(rules.Input{Method: "PATCH", Path: "/posts/2", Status: 200}); d.ResourceType != "" {
		t.Errorf("resource_template off: %q:%q", d.ResourceType, d.ResourceID)
	}
	policy.ResourceTemplate = "app-{resource}:{segment}"
	custom, _ := rules.Compile(policy)
	if d := custom.Evaluate(rules.Input{Method: "PATCH", Path: "/posts/2/title", Status: 200}); d.ResourceType != "app-posts" || d.ResourceID != "title" {
		t.Errorf("custom template: %q:%q", d.ResourceType, d.ResourceID)
	}
}

func TestResourceTemplateErrors(t *testing.T) {
	for _, bad := range []string{"{nope}:{id}", "{resource", ":{id}", "x}", "{segment0}", "{segment01}"} {
		p := rules.DefaultPolicy()
		p.ResourceTemplate = bad
		_, err := rules.Compile(p)
		var fe *rules.FieldError
		if err == nil || !errors.As(err, &fe) || fe.Key != "resource_template" {
			t.Errorf("resource_template %q: %v, want an error naming resource_template", bad, err)
		}
		p = rules.DefaultPolicy()
		p.Actions = []rules.ActionRule{{Path: "/x", Action: "a", Resource: bad}}
		if _, err := rules.Compile(p); err == nil || !errors.As(err, &fe) || fe.Key != "actions[0].resource" {
			t.Errorf("actions[0].resource %q: %v, want an error naming it", bad, err)
		}
	}
}
