package httptoken_test

import (
	"testing"

	"github.com/trailcar/trailcar/internal/httptoken"
)

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"GET": true, "X-Request-Id": true, "x_y.z~!": true,
		"": false, "X Request": false, "Ä": false, "a:b": false, "a\x00": false, "(x)": false,
	} {
		if got := httptoken.Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
