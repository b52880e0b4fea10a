package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// TestAnchoreCLIHabits types the commands of anchore-cli's event
// documentation, translated to trailcar events, against a real sidecar,
// and checks each result: levels in capitals, RESOURCE as an argument,
// times as anchore users write them, and the bare delete's prompt
// answered through stdin.
func TestAnchoreCLIHabits(t *testing.T) {
	admin, tokenFile, request := evServer(t)
	request("/api/v3/widgets/201", 5)
	request("/api/v3/widgets/500", 2)
	request("/api/v3/images/500", 1)
	t.Setenv("TRAILCAR_SERVER", admin)
	t.Setenv("TRAILCAR_TOKEN", "")
	auth := []string{"--token-file", tokenFile}
	today := time.Now().UTC().Format("2006-01-02")
	zoneless := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05")
	soon := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	rows := func(out string) int { return len(strings.Split(strings.TrimSpace(out), "\n")) - 1 } // minus the header
	steps := []struct {
		doc   string   // the anchore-cli command
		args  []string // trailcar's
		stdin string
		check func(t *testing.T, code int, out string)
	}{
		{"anchore-cli event list", []string{"events", "list", "--action", "console.*"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || rows(out) != 8 || !strings.HasPrefix(out, "Timestamp") {
					t.Errorf("exit %d, %d rows:\n%s", code, rows(out), out)
				}
			}},
		{"anchore-cli event list --level ERROR", []string{"events", "list", "--level", "ERROR", "--action", "console.*"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || rows(out) != 3 || strings.Contains(out, " info ") {
					t.Errorf("exit %d, %d rows:\n%s", code, rows(out), out)
				}
			}},
		{"anchore-cli event list --since " + today, []string{"events", "list", "--since", today, "--action", "console.*", "-o", "json"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || len(evLines(out)) != 8 {
					t.Errorf("exit %d: %s", code, out)
				}
			}},
		{"anchore-cli event list --since " + zoneless + " (ISO 8601, UTC)", []string{"events", "list", "--since", zoneless, "--action", "console.*", "-o", "json"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || len(evLines(out)) != 8 {
					t.Errorf("exit %d: %s", code, out)
				}
			}},
		{"anchore-cli event list --since 15m", []string{"events", "list", "--since", "15m", "--action", "console.*", "-o", "json"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || len(evLines(out)) != 8 {
					t.Errorf("exit %d: %s", code, out)
				}
			}},
		{"anchore-cli event list /api/**/images/*", []string{"events", "list", "/api/**/images/*"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || rows(out) != 1 {
					t.Errorf("exit %d, %d rows:\n%s", code, rows(out), out)
				}
			}},
		{"anchore-cli event list --since <an hour from now>", []string{"events", "list", "--since", soon}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || !strings.Contains(out, "No events") || !strings.HasPrefix(out, "Timestamp") {
					t.Errorf("exit %d:\n%s", code, out)
				}
			}},
		{"anchore-cli event delete --before <soon> '/api/**/images/*'", []string{"events", "delete", "--before", soon, "/api/**/images/*"}, "",
			func(t *testing.T, code int, out string) {
				if code != 0 || out != "Deleted 1 events\n" {
					t.Errorf("exit %d %q", code, out)
				}
			}},
		{"anchore-cli event delete (answered n)", []string{"events", "delete"}, "n\n",
			func(t *testing.T, code int, out string) {
				if code != 0 || out != "Really delete (clear) all events? (y/N) Nothing deleted\n" {
					t.Errorf("exit %d %q", code, out)
				}
			}},
		{"anchore-cli event delete (answered y)", []string{"events", "delete"}, "y\n",
			func(t *testing.T, code int, out string) {
				if code != 0 || !strings.HasPrefix(out, "Really delete (clear) all events? (y/N) Deleted ") || strings.Contains(out, "Deleted 0 ") {
					t.Errorf("exit %d %q", code, out)
				}
			}},
	}
	for _, st := range steps {
		t.Run(st.doc, func(t *testing.T) {
			code, out, errOut := evRun(t, st.stdin, append(st.args, auth...)...)
			if errOut != "" && code != 0 {
				t.Logf("stderr: %s", errOut)
			}
			st.check(t, code, out)
		})
	}
	// After the bare delete, only its own record (and later reads) remain.
	code, out, _ := evRun(t, "", append([]string{"events", "list", "--action", "console.*", "-o", "json"}, auth...)...)
	for _, l := range evLines(out) {
		var e event.Event
		event.Decode([]byte(l), &e)
		if strings.HasPrefix(e.Req.Path, "/api/v3/widgets") || strings.HasPrefix(e.Req.Path, "/api/v3/images") {
			t.Errorf("exit %d: %s survived the delete", code, l)
		}
	}
}

// TestFollowSinceAndBefore: follow --since replays from that time on,
// then follows; with --before it ends once that time has passed, also when
// it passed already (it used to wait for ever).
func TestFollowSinceAndBefore(t *testing.T) {
	admin, tokenFile, request := evServer(t)
	request("/api/v3/widgets/201", 3)
	logs := filepath.Join(filepath.Dir(tokenFile), "logs")
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, where := range [][]string{{"--server", admin, "--token-file", tokenFile}, {"--dir", logs}} {
		t.Run(where[0], func(t *testing.T) {
			done := make(chan struct{})
			var code int
			var out, errOut string
			go func() {
				defer close(done)
				code, out, errOut = evRun(t, "", append([]string{"events", "follow", "--since", "10m", "--before", now, "--action", "console.*", "-o", "json"}, where...)...)
			}()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("follow --before <past> did not end")
			}
			if code != 0 || len(evLines(out)) != 3 {
				t.Fatalf("exit %d, %d events replayed: %s %s", code, len(evLines(out)), out, errOut)
			}
			code, out, _ = evRun(t, "", append([]string{"events", "follow", "--before", now}, where...)...)
			if code != 0 || !strings.Contains(out, "No events") {
				t.Fatalf("follow --before <past>: exit %d %q", code, out)
			}
		})
	}
}
