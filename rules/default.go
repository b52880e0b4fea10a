package rules

// DefaultPolicy is the tracking policy of the default configuration
// (docs/configuration.md "Keys and defaults"): what sidecar.DefaultConfig starts from, and
// what the tests of the rules run against. Each call returns new slices.
func DefaultPolicy() Policy {
	return Policy{
		Service:  "console",
		Methods:  []string{"POST", "PUT", "PATCH", "DELETE"},
		Always:   []string{"/ak/api/**", "/auth/login", "/auth/logout", "/api/v[123]/logs/**"},
		Statuses: []int{400, 401, 403},
		IgnoreRoutes: []string{
			"/api/v[123]/proxy{,/**}",
			"/grpcwp/**",
			"/configtxlator/**",
			"/api/v[123]/components/status",
			"/api/v[123]/logs",
		},
		Actions: []ActionRule{
			{Path: "/auth/login", Action: "console.users.login"},
			{Path: "/auth/logout", Action: "console.users.logout"},
			{Path: "/api/v[123]/components{,/**}", Methods: []string{"POST"}, Action: "console.components.create"},
		},
		ActionTemplate:   "{service}.{resource}.{verb}",
		ResourceTemplate: "{resource}:{id}",
	}
}
