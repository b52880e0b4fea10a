//go:build race

package clientevent_test

const raceEnabled = true
