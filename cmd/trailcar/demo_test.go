package main

import (
	"os"
	"strings"
	"testing"
)

// TestDemoBadAddress: a demo flag's bad address is bad usage (exit 2,
// naming the key it sets), and leaves no empty demo dir in $TMPDIR.
func TestDemoBadAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		key  string
	}{
		{"listen", []string{"demo", "--listen", "nonsense"}, `listen: "nonsense"`},
		{"admin-listen", []string{"demo", "--admin-listen", "127.0.0.1:99999"}, `admin.listen: "127.0.0.1:99999"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			code, stdout, stderr := coreRun(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.key) {
				t.Errorf("exit %d, stderr %q; want 2 naming %s", code, stderr, tc.key)
			}
			if stdout != "" {
				t.Errorf("printed %q before failing", stdout)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("left %v in $TMPDIR", left)
			}
		})
	}
}
