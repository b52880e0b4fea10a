package rules_test

import (
	"strings"
	"testing"

	"github.com/trailcar/trailcar/rules"
)

// benchInputs are typical requests to a console behind the default policy.
var benchInputs = []struct {
	name string
	in   rules.Input
}{
	{"GET untracked", rules.Input{Method: "GET", Path: "/api/v3/components", Status: 200}},
	{"GET ignored", rules.Input{Method: "GET", Path: "/api/v3/proxy/peer1/channels/mychannel", Status: 200}},
	{"POST rule", rules.Input{Method: "POST", Path: "/api/v3/components", Status: 201}},
	{"DELETE template", rules.Input{Method: "DELETE", Path: "/api/v2/widgets/w1", Status: 204}},
	{"GET always", rules.Input{Method: "GET", Path: "/ak/api/v1/components/status", Status: 200}},
	{"GET 403", rules.Input{Method: "GET", Path: "/api/v3/settings", Status: 403}},
	{"dot-dot", rules.Input{Method: "POST", Path: "/api/v3/proxy/../components", Status: 201}},
}

func BenchmarkEvaluate(b *testing.B) {
	r := mustCompile(b, rules.DefaultPolicy())
	for _, bc := range benchInputs {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Evaluate(bc.in)
			}
		})
	}
	b.Run("mix parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				r.Evaluate(benchInputs[i%len(benchInputs)].in)
			}
		})
	})
}

// BenchmarkEvaluateWorstPattern is the slowest shape Compile accepts (one
// star not ending its segment) against the longest path it matches, built to
// fail late: an upper bound of what a client can make one request cost.
func BenchmarkEvaluateWorstPattern(b *testing.B) {
	r := mustCompile(b, rules.Policy{Always: []string{"/*-*"}, ActionTemplate: "a"})
	in := rules.Input{Method: "GET", Path: "/" + strings.Repeat("-", 4<<10-3) + "/y"}
	b.ReportAllocs()
	for b.Loop() {
		r.Evaluate(in)
	}
}
