package identity_test

import (
	"testing"

	"github.com/trailcar/trailcar/internal/identity"
)

func TestRedactorQuery(t *testing.T) {
	r := identity.NewRedactor([]string{"token", "API_KEY"})
	tests := []struct{ name, in, want string }{
		{"plain", "a=1&b=2", "a=1&b=2"},
		{"secret", "a=1&token=abc&b=2", "a=1&token=REDACTED&b=2"},
		{"any case", "Token=abc&api_key=k", "Token=REDACTED&api_key=REDACTED"},
		{"escaped key", "%74oken=abc", "%74oken=REDACTED"},
		{"no value kept as is", "token&x=1", "token&x=1"},
		{"empty value", "token=", "token=REDACTED"},
		{"bad escape is compared raw", "tok%zzen=1", "tok%zzen=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Query(tt.in); got != tt.want {
				t.Errorf("Query(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
