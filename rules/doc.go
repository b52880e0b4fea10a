// Package rules decides which proxied requests become audit events, and with
// which action and level (SPEC §2 activity_tracker, §3.1).
//
// A [Policy] is the configuration as written; [Compile] validates it once and
// returns [Rules], whose methods are pure, safe for concurrent use, and cheap
// enough to run on every proxied request: [Rules.Evaluate] does not allocate
// unless it renders an action from a template it has not rendered before.
//
// Paths are matched cleaned (see [Rules.Evaluate]) so that dot segments and
// doubled slashes cannot steer a request into, or out of, a pattern. HTTP
// methods are compared case-insensitively everywhere in this package: an
// upstream that routes "post" as POST must not let it dodge tracking.
package rules
