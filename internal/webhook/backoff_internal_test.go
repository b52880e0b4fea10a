package webhook

import (
	"testing"
	"time"
)

func TestBackoffSchedule(t *testing.T) {
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := baseBackoff(i + 1); got != w {
			t.Errorf("baseBackoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := baseBackoff(1000); got != maxBackoff {
		t.Errorf("baseBackoff(1000) = %v, want %v", got, maxBackoff)
	}
}

func TestBackoffJitter(t *testing.T) {
	tests := []struct {
		r    float64
		want time.Duration
	}{
		{0, 4 * time.Second},
		{0.5, 5 * time.Second},
		{0.999999, 5999998 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := spread(5*time.Second, tt.r); got != tt.want {
			t.Errorf("spread(5s, %v) = %v, want %v", tt.r, got, tt.want)
		}
	}
	for range 1000 {
		if got := defaultBackoff(1); got < 200*time.Millisecond || got >= 300*time.Millisecond {
			t.Fatalf("defaultBackoff(1) = %v, want within 250ms ± 20%%", got)
		}
	}
}
