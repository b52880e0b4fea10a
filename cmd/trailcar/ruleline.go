package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/trailcar/trailcar/rules"
	"github.com/trailcar/trailcar/sidecar"
)

// rulesLine is the line serve writes at start with the tracking rules in
// effect: their defaults are the IBM console's, so an app that is not the
// console must never lose writes to them without a word (docs/events.md
// "Which requests become events").
func rulesLine(cfg sidecar.Config) string {
	t := &cfg.ActivityTracker
	def := rules.DefaultPolicy()
	list := func(v []string) string {
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ", ")
	}
	statuses := make([]string, len(t.Track.Statuses))
	for i, s := range t.Track.Statuses {
		statuses[i] = strconv.Itoa(s)
	}
	whose := "configured"
	if cfg.Service == def.Service && slices.Equal(t.Track.Methods, def.Methods) && slices.Equal(t.Track.Always, def.Always) &&
		slices.Equal(t.IgnoreRoutes, def.IgnoreRoutes) && slices.EqualFunc(t.Actions, def.Actions, sameRule) {
		whose = "the IBM console's defaults: set service, activity_tracker.track, ignore_routes and actions for another app"
	}
	captures := make([]string, len(t.Capture))
	for i, c := range t.Capture {
		captures[i] = c.Path // a body kept is worth seeing at start: it may hold credentials
	}
	return fmt.Sprintf("[event tracker] rules (%s): service %q; methods %s; statuses %s; always %s; ignore_routes %s; %d actions rules; bodies captured on %s",
		whose, cfg.Service, list(t.Track.Methods), list(statuses), list(t.Track.Always), list(t.IgnoreRoutes), len(t.Actions), list(captures))
}

func sameRule(a, b rules.ActionRule) bool {
	return a.Path == b.Path && slices.Equal(a.Methods, b.Methods) && a.Action == b.Action && a.Level == b.Level && a.Resource == b.Resource
}
