package rules_test

import (
	"fmt"

	"github.com/trailcar/trailcar/rules"
)

func ExampleRules_Evaluate() {
	r, err := rules.Compile(rules.Policy{
		Service:        "console",
		Methods:        []string{"POST", "PUT", "PATCH", "DELETE"},
		Always:         []string{"/ak/api/**", "/auth/login", "/auth/logout", "/api/v[123]/logs/**"},
		Statuses:       []int{400, 401, 403},
		IgnoreRoutes:   []string{"/api/v[123]/proxy{,/**}", "/api/v[123]/logs"},
		Actions:        []rules.ActionRule{{Path: "/auth/login", Action: "console.users.login"}},
		ActionTemplate: "{service}.{resource}.{verb}",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range []rules.Input{
		{Method: "GET", Path: "/api/v3/components", Status: 200},
		{Method: "DELETE", Path: "/api/v3/components/c1", Status: 204},
		{Method: "GET", Path: "/api/v3/settings", Status: 403},
		{Method: "POST", Path: "/auth/login", Status: 401},
		{Method: "POST", Path: "/api/v3/proxy/peer1", Status: 500},
		{Method: "GET", Path: "/api/v3/proxy/../logs/audit.log", Status: 200},
		{Method: "GET", Path: "/api/v3/proxy/ca", Status: 200, Track: "true", Action: "console.ca.enroll"},
	} {
		d := r.Evaluate(in)
		if !d.Tracked {
			fmt.Printf("%-6s %-32s not tracked\n", in.Method, in.Path)
			continue
		}
		fmt.Printf("%-6s %-32s %s %s\n", in.Method, in.Path, d.Action, d.Level)
	}
	// Output:
	// GET    /api/v3/components               not tracked
	// DELETE /api/v3/components/c1            console.components.delete info
	// GET    /api/v3/settings                 console.settings.read error
	// POST   /auth/login                      console.users.login error
	// POST   /api/v3/proxy/peer1              not tracked
	// GET    /api/v3/proxy/../logs/audit.log  console.logs.read info
	// GET    /api/v3/proxy/ca                 console.ca.enroll info
}
