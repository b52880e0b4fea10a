//go:build !race

package sidecartest

// RaceEnabled reports whether the tests were built with -race.
const RaceEnabled = false
