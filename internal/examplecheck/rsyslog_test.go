package examplecheck_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

// rsyslogd finds Debian's rsyslogd (installed by .ci/run), or skips.
func rsyslogd(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/rsyslogd"); err == nil {
		return "/usr/sbin/rsyslogd"
	}
	t.Skip("SKIPPED: rsyslogd is not installed (apt-get install rsyslog; .ci/run does): examples/rsyslog/trailcar.conf not run")
	return ""
}

// rsyslogConf is examples/rsyslog/trailcar.conf for a test: the live file
// and the work dir of its own, and the output ruleset replaced by one that
// writes each line to out.
func rsyslogConf(t *testing.T, logDir, workDir, out string) string {
	t.Helper()
	data, err := os.ReadFile("rsyslog/trailcar.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(data)
	for from, to := range map[string]string{
		"/var/log/trailcar/audit.log": filepath.Join(logDir, "audit.log"),
		"/var/lib/trailcar-rsyslog":   workDir,
	} {
		if !strings.Contains(conf, `"`+from+`"`) {
			t.Fatalf("rsyslog/trailcar.conf no longer names %s", from)
		}
		conf = strings.ReplaceAll(conf, `"`+from+`"`, `"`+to+`"`)
	}
	output := regexp.MustCompile(`(?s)# BEGIN output\n.*# END output\n`)
	if !output.MatchString(conf) {
		t.Fatal(`rsyslog/trailcar.conf has no "# BEGIN output" … "# END output" block`)
	}
	conf = output.ReplaceAllLiteralString(conf, fmt.Sprintf(`ruleset(name="trailcar") {
    action(type="omfile" file=%q template="trailcar_line" flushOnTXEnd="on" asyncWriting="off")
}
`, out))
	path := filepath.Join(workDir, "rsyslog.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRsyslogExample runs examples/rsyslog/trailcar.conf with Debian's
// rsyslogd (imfile following audit.log) beside a real sidecar under load,
// with 1 MiB rotation and audited deletes through the admin API (of
// events in the live file and in rotated ones), and checks what rsyslog
// wrote out: every line the files keep, once; no line twice. Lines a
// delete removed may be there (read before the delete) or not.
func TestRsyslogExample(t *testing.T) {
	bin := rsyslogd(t)
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Audit-Message", strings.Repeat("r", 800)) // ~1.5 KB lines: a rotation every ~700
		w.WriteHeader(201)
	}))
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB = 1
	cfg.Admin.AllowDelete = true
	s := sidecartest.Start(t, cfg)
	if err := os.MkdirAll(s.Dir(), 0o750); err != nil {
		t.Fatal(err)
	}

	workDir := t.TempDir()
	out := filepath.Join(workDir, "shipped.ndjson")
	conf := rsyslogConf(t, s.Dir(), workDir, out)
	if msg, err := exec.Command(bin, "-N1", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 (config check): %v\n%s", err, msg)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", conf, "-i", filepath.Join(workDir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
	defer stop()

	post := func(round, n int) {
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < n; i += 4 {
					resp, err := sidecartest.Client().Post(fmt.Sprintf("%s/api/v3/widgets/r%d-%d", s.ProxyURL(), round, i), "", nil)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	del := func(query string) int {
		code, _, body := sidecartest.Do(t, "DELETE", s.AdminURL()+"/api/v3/events"+query, "")
		if code != 200 {
			t.Fatalf("DELETE %s: %d %s", query, code, body)
		}
		var n int
		fmt.Sscanf(body[strings.Index(body, ":")+1:], "%d", &n)
		return n
	}
	deletes, deleted := 0, 0
	for round := range 6 {
		post(round, 900)
		lines := s.Lines()
		// The newest event (in the live file), then 50 events of the
		// round by time (in a rotated file, or the live one).
		var newest string
		for i := len(lines) - 1; i >= 0 && newest == ""; i-- {
			if lines[i].Type == event.TypeHTTP {
				newest = lines[i].ID
			}
		}
		deleted += del("/" + newest)
		since, before := lines[len(lines)-400].Time, lines[len(lines)-350].Time
		deleted += del("?" + url.Values{"since": {since.Format(time.RFC3339Nano)}, "before": {before.Format(time.RFC3339Nano)}}.Encode())
		deletes += 2
		// A path tailer reads a rotated file only if it opened it before
		// the next rotation: the load leaves rsyslog time to, as a
		// console's would (docs/shipping.md "Tailing shippers").
		time.Sleep(300 * time.Millisecond)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	kept := sidecartest.ReadLines(t, s.Dir(), "")
	keptIDs := map[string]bool{}
	for _, l := range kept {
		keptIDs[l.ID] = true
	}
	var shipped map[string]int
	var dups, lost int
	count := func() {
		shipped, dups = countShipped(t, out)
		lost = 0
		for id := range keptIDs {
			if shipped[id] == 0 {
				lost++
			}
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if count(); lost == 0 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(time.Second) // anything read twice comes by now
	stop()
	count()
	files, _ := rotate.List(s.Dir(), "audit.log")
	extra := 0
	for id := range shipped {
		if !keptIDs[id] {
			extra++ // deleted after rsyslog had read it
		}
	}
	t.Logf("rsyslog: %d lines kept in %d files (%d rotations); %d deletes removed %d lines; shipped %d distinct lines, %d of them deleted later; duplicates %d, lost %d",
		len(kept), len(files), len(files)-1, deletes, deleted, len(shipped), extra, dups, lost)
	if dups > 0 || lost > 0 {
		byFile := map[string][2]int{} // lost, kept
		for _, l := range kept {
			n := byFile[l.File]
			n[1]++
			if shipped[l.ID] == 0 {
				n[0]++
			}
			byFile[l.File] = n
		}
		t.Fatalf("rsyslog shipped %d lines more than once and lost %d of the %d kept; lost/kept by file: %v\nrsyslogd:\n%s", dups, lost, len(kept), byFile, stderr.String())
	}
	if len(files) < 6 || deleted == 0 {
		t.Fatalf("the test exercised too little: %d files, %d deleted", len(files), deleted)
	}
}

// countShipped reads what rsyslog wrote out: how often each line (by its
// event id) came, and how many came more than once.
func countShipped(t *testing.T, path string) (map[string]int, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	seen := map[string]int{}
	dups := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		id, ok := event.LineID(line)
		if !ok {
			t.Fatalf("rsyslog wrote a line that is not trailcar's: %.200q", line)
		}
		if seen[string(id)]++; seen[string(id)] == 2 {
			dups++
		}
	}
	return seen, dups
}
