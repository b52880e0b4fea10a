// Package rules decides which proxied requests become audit events, and with
// which action and level (docs/configuration.md "Keys and defaults", docs/events.md "Which requests become events").
//
// A [Policy] is the configuration as written; [Compile] validates it once and
// returns [Rules], whose methods are pure, safe for concurrent use, and cheap
// enough to run on every proxied request: [Rules.Evaluate] does not allocate
// unless the path needs cleaning or it renders an action for the first time.
//
// The rules err on the side of tracking. Paths are matched both as sent and
// cleaned (see [Rules.Evaluate]), so that dot segments and doubled slashes
// cannot steer a request into an ignored route, whether or not the upstream
// cleans paths. HTTP methods are compared case-insensitively: an upstream
// that routes "post" as POST must not let it dodge tracking. Patterns whose
// matching time could explode with the path's length are refused by Compile,
// and paths too long to match are tracked.
package rules
