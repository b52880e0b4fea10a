package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// TestEventsBinary builds trailcar and runs the events commands as real
// processes against a real sidecar: exit codes, output, and follow ending
// on SIGINT with exit 0.
func TestEventsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "trailcar")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	admin, tokenFile, request := evServer(t)
	request("/api/v3/widgets/404", 2)
	env := append(os.Environ(), "TRAILCAR_SERVER="+admin, "TRAILCAR_TOKEN=")
	runBin := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String(), errOut.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errOut.String()
	}
	code, out, errOut := runBin("events", "list", "--token-file", tokenFile, "--status", "404", "-o", "json")
	if code != 0 || len(evLines(out)) != 2 {
		t.Fatalf("list: exit %d %q %s", code, out, errOut)
	}
	if code, _, errOut := runBin("events", "list"); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("no token: exit %d %s", code, errOut)
	}
	if code, _, errOut := runBin("events", "list", "--status", "4x"); code != 2 || !strings.Contains(errOut, "--status") {
		t.Fatalf("bad flag: exit %d %s", code, errOut)
	}

	follow := exec.Command(bin, "events", "follow", "--token-file", tokenFile, "-o", "json", "--status", "404")
	follow.Env = env
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	request("/api/v3/widgets/404", 1)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var e event.Event
	if err != nil || event.Decode([]byte(strings.TrimSpace(line)), &e) != nil || e.Res.StatusCode != 404 {
		t.Fatalf("followed %q, %v", line, err)
	}
	follow.Process.Signal(syscall.SIGINT)
	if err := follow.Wait(); err != nil {
		t.Fatalf("follow after SIGINT: %v (want exit 0)", err)
	}
}
