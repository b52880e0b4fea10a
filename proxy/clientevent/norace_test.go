//go:build !race

package clientevent_test

const raceEnabled = false
