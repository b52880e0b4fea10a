//go:build race

package sidecartest

// RaceEnabled reports whether the tests were built with -race. Under the
// race detector sync.Pool drops items at random, so a test that counts
// allocations of pooled work skips itself there.
const RaceEnabled = true
