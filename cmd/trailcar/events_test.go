package main

// Tests of the events commands, run in-process through run() against real
// files and a real sidecar. Helpers here start with "ev".

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

// evRun runs a command line in-process.
func evRun(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// evDir writes n events through a real rotating file and writer: event i
// has level error when i%4 == 0, action console.widgets.create, path
// /api/v3/widgets/w<i>; one in ten is a system event.
func evDir(t *testing.T, n int) (dir string, ids []string) {
	t.Helper()
	dir = t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Service: "console", Host: "h1", Metrics: metrics.New(prometheus.NewRegistry())})
	for i := 0; i < n; i++ {
		e := &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
			Action: "console.widgets.create", Creds: event.Creds{Name: "alice", Type: "token"}, Address: "10.0.0.7",
			Req: event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/widgets/w%d", i)}, Res: event.Response{StatusCode: 201}}
		if i%4 == 0 {
			e.Level, e.Outcome, e.Res.StatusCode = event.LevelError, event.OutcomeFailure, 500
		}
		if i%10 == 5 {
			e.Type, e.Action = "system.test.tick", ""
		}
		if err := w.Emit(e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

func evLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestEventsListFromDir(t *testing.T) {
	dir, ids := evDir(t, 5000)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{"table, newest 100", []string{"events", "list", "--dir", dir}, func(t *testing.T, out string) {
			lines := evLines(out)
			if len(lines) != 101 || strings.Join(strings.Fields(lines[0]), " ") != "Timestamp Level Service Host Event ID" {
				t.Fatalf("%d lines, header %q", len(lines), lines[0])
			}
			if f := strings.Fields(lines[1]); f[5] != ids[4999] || f[4] != "console.widgets.create" || f[1] != "info" {
				t.Fatalf("first row %q", lines[1])
			}
			if f := strings.Fields(lines[5]); f[4] != "system.test.tick" {
				t.Fatalf("system event row %q: Event should be the type", lines[5])
			}
		}},
		{"full table", []string{"events", "list", "--dir", dir, "--full", "--limit", "1"}, func(t *testing.T, out string) {
			lines := evLines(out)
			head, row := strings.Fields(lines[0]), strings.Fields(lines[1])
			if strings.Join(head[6:], " ") != "User Method Path Status Address" ||
				strings.Join(row[6:], " ") != "alice POST /api/v3/widgets/w4999 201 10.0.0.7" {
				t.Fatalf("%q", out)
			}
		}},
		{"json lines with filters", []string{"events", "list", "--dir", dir, "-o", "json", "--level", "error", "--status", "5xx", "--limit", "3"}, func(t *testing.T, out string) {
			lines := evLines(out)
			if len(lines) != 3 {
				t.Fatalf("%d lines", len(lines))
			}
			for i, l := range lines {
				var e event.Event
				if err := event.Decode([]byte(l), &e); err != nil || e.ID != ids[4996-4*i] {
					t.Fatalf("line %d: %v %s", i, err, l)
				}
			}
		}},
		{"resource argument", []string{"events", "list", "/api/v3/widgets/w12?", "--dir", dir, "-o", "json", "--all"}, func(t *testing.T, out string) {
			if n := len(evLines(out)); n != 10 { // w120..w129
				t.Fatalf("%d events", n)
			}
		}},
		{"all", []string{"events", "list", "--dir", dir, "--all", "-o", "json"}, func(t *testing.T, out string) {
			lines := evLines(out)
			if len(lines) != 5000 || !strings.Contains(lines[4999], ids[0]) {
				t.Fatalf("%d events", len(lines))
			}
		}},
		{"yaml keeps field order", []string{"events", "list", "--dir", dir, "-o", "yaml", "--limit", "2"}, func(t *testing.T, out string) {
			var seq []yaml.Node
			if err := yaml.Unmarshal([]byte(out), &seq); err != nil || len(seq) != 2 {
				t.Fatalf("%v: %s", err, out)
			}
			keys := []string{}
			for i := 0; i < len(seq[0].Content); i += 2 {
				keys = append(keys, seq[0].Content[i].Value)
			}
			if strings.Join(keys, ",") != "id,eventTime,type,level,service,host,outcome,action,creds,address,req,res" {
				t.Fatalf("keys %v", keys)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := evRun(t, "", tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tt.check(t, out)
		})
	}
}

func TestEventsUsageErrors(t *testing.T) {
	dir, _ := evDir(t, 10)
	tests := []struct {
		args  []string
		names string
	}{
		{[]string{"events", "list", "--dir", dir, "--level", "warn"}, "--level"},
		{[]string{"events", "list", "--dir", dir, "--since", "the day before"}, "--since"},
		{[]string{"events", "list", "--dir", dir, "--since", "2026-11-22T09:00:00Z", "--before", "2026-11-22T08:00:00Z"}, "--since"},
		{[]string{"events", "list", "--dir", dir, "--type", "system.["}, "--type"},
		{[]string{"events", "list", "--dir", dir, "--status", "9xx"}, "--status"},
		{[]string{"events", "list", "[", "--dir", dir}, "RESOURCE"},
		{[]string{"events", "list", "--dir", dir, "--limit", "0"}, "--limit"},
		{[]string{"events", "list", "--dir", dir, "--limit", "5", "--all"}, "--all"},
		{[]string{"events", "list", "--dir", dir, "-o", "csv"}, "-o"},
		{[]string{"events", "list", "--dir", dir, "--nope"}, "--nope"},
		{[]string{"events", "list", "--dir", filepath.Join(dir, "missing")}, "--dir"},
		{[]string{"events", "list", "--server", "localhost:9090"}, "--server"},
		{[]string{"events", "get", "0193", "--dir", dir}, "ID"},
		{[]string{"events", "get", "--dir", dir}, "ID"},
		{[]string{"events", "delete", "--dir", dir, "--all", "--level", "error"}, "--all"},
		{[]string{"events", "follow", "--dir", dir, "-o", "yaml"}, "-o"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			code, _, errOut := evRun(t, "", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.names) {
				t.Fatalf("exit %d, %q; want 2 naming %s", code, errOut, tt.names)
			}
		})
	}
}

func TestEventsGetAndDeleteFromDir(t *testing.T) {
	dir, ids := evDir(t, 3000)
	code, out, errOut := evRun(t, "", "events", "get", ids[1234], "--dir", dir)
	if code != 0 || !strings.HasPrefix(out, "id: "+ids[1234]+"\neventTime: \"") || !strings.Contains(out, "\nreq:\n  method: POST\n  path: /api/v3/widgets/w1234\n") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	code, out, _ = evRun(t, "", "events", "get", ids[7], "--dir", dir, "-o", "json")
	var e event.Event
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.ID != ids[7] {
		t.Fatalf("exit %d: %s", code, out)
	}
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		out         string
	}{
		{"one", "", []string{"events", "delete", ids[1234]}, 0, "Deleted 1 events\n"},
		{"one again", "", []string{"events", "delete", ids[1234]}, 1, ""},
		{"by filter", "", []string{"events", "delete", "--level", "error", "--type", "http"}, 0, "Deleted 750 events\n"},
		{"all, answered no", "n\n", []string{"events", "delete", "--all"}, 0, "Really delete (clear) all events? (y/N) Nothing deleted\n"},
		{"all, no answer", "", []string{"events", "delete", "--all"}, 0, "Really delete (clear) all events? (y/N) Nothing deleted\n"},
		{"all, answered yes", "y\n", []string{"events", "delete", "--all"}, 0, "Really delete (clear) all events? (y/N) Deleted 2249 events\n"},
		{"all again, --yes", "", []string{"events", "delete", "--all", "--yes"}, 0, "Deleted 0 events\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := evRun(t, tt.stdin, append(tt.args, "--dir", dir)...)
			if code != tt.code || out != tt.out {
				t.Fatalf("exit %d, out %q, err %q; want %d, %q", code, out, errOut, tt.code, tt.out)
			}
		})
	}
	if code, _, errOut := evRun(t, "", "events", "get", ids[0], "--dir", dir); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("get after delete: exit %d %s", code, errOut)
	}
}

// evServer runs a real sidecar with a token and returns its admin URL,
// the token file, and a function that makes n tracked requests (status
// in the path: /x/404).
func evServer(t *testing.T) (admin, tokenFile string, request func(path string, n int)) {
	t.Helper()
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := 201
		fmt.Sscanf(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], "%d", &status)
		w.WriteHeader(status)
	}))
	cfg := sidecartest.Config(t, up.URL)
	tokenFile = filepath.Join(filepath.Dir(cfg.ActivityTracker.Dir), "token") // beside the log dir
	if err := os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin.TokenFile = tokenFile
	sc := sidecartest.Start(t, cfg)
	sent := 0
	c := &client.Client{BaseURL: sc.AdminURL(), Token: "tok-123"}
	return sc.AdminURL(), tokenFile, func(path string, n int) {
		for i := 0; i < n; i++ {
			resp, err := http.Post(sc.ProxyURL()+path, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		// Events are written just after their responses: wait for them.
		sent += n
		sidecartest.Eventually(t, fmt.Sprintf("%d events to be written", sent), func() bool {
			p, err := c.List(context.Background(), &event.Filter{Method: "POST"}, 1000, "")
			return err == nil && p.ItemCount >= min(sent, 1000)
		})
	}
}

func TestEventsAgainstAServer(t *testing.T) {
	admin, tokenFile, request := evServer(t)
	request("/api/v3/widgets/201", 1200)
	request("/api/v3/widgets/404", 3)
	auth := []string{"--server", admin, "--token-file", tokenFile}
	code, out, errOut := evRun(t, "", append([]string{"events", "list", "--all", "-o", "json", "--method", "POST"}, auth...)...)
	if n := len(evLines(out)); code != 0 || n != 1203 {
		t.Fatalf("exit %d, %d events: %s", code, n, errOut)
	}
	var newest event.Event
	event.Decode([]byte(evLines(out)[0]), &newest)
	code, out, _ = evRun(t, "", append([]string{"events", "get", newest.ID, "-o", "json"}, auth...)...)
	if code != 0 || !strings.Contains(out, `"statusCode": 404`) {
		t.Fatalf("get: exit %d %s", code, out)
	}
	code, out, _ = evRun(t, "", append([]string{"events", "delete", "--status", "404"}, auth...)...)
	if code != 0 || out != "Deleted 3 events\n" {
		t.Fatalf("delete: exit %d %q", code, out)
	}
	t.Setenv("TRAILCAR_SERVER", admin)
	t.Setenv("TRAILCAR_TOKEN", "tok-123")
	// The deleted event is queued as the delete answers, and written a
	// moment later: poll for it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, out, errOut := evRun(t, "", "events", "list", "--limit", "1", "--type", "system.events.deleted")
		if code == 0 && len(evLines(out)) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("from the environment: exit %d %q %s", code, out, errOut)
		}
	}
	failures := []struct {
		name string
		args []string
		want string
	}{
		{"wrong token", []string{"events", "list", "--server", admin, "--token-file", writeFile(t, "nope")}, "401"},
		{"not found", []string{"events", "get", "0193a0b1c2d37e4f8a9b0c1d2e3f4a5b"}, "not found"},
		{"unreachable", []string{"events", "list", "--server", "http://127.0.0.1:1"}, "refused"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := evRun(t, "", tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d %q; want 1 and %q", code, errOut, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(content), 0o600)
	return p
}

// TestEventsFollow follows a server's stream and its files, in-process,
// until the context ends (Ctrl-C): exit 0, new matching events printed.
func TestEventsFollow(t *testing.T) {
	admin, tokenFile, request := evServer(t)
	logs := filepath.Join(filepath.Dir(tokenFile), "logs")
	for _, where := range [][]string{{"--server", admin, "--token-file", tokenFile}, {"--dir", logs}} {
		t.Run(where[0], func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var out, errOut sidecartest.Buffer
			done := make(chan int)
			go func() {
				args := append([]string{"events", "follow", "--status", "404", "-o", "json"}, where...)
				done <- run(ctx, args, strings.NewReader(""), &out, &errOut)
			}()
			time.Sleep(300 * time.Millisecond) // connected, or the file opened
			request("/api/v3/widgets/201", 2)
			request("/api/v3/widgets/404", 2)
			deadline := time.Now().Add(5 * time.Second)
			for len(evLines(out.String())) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			lines := evLines(out.String())
			if len(lines) != 2 {
				t.Fatalf("followed %q", out.String())
			}
			for _, l := range lines {
				var e event.Event
				if err := event.Decode([]byte(l), &e); err != nil || e.Res.StatusCode != 404 {
					t.Fatalf("%v: %s", err, l)
				}
			}
		})
	}
}

func TestEventsListWarnsOfBadLines(t *testing.T) {
	dir, ids := evDir(t, 3)
	f, err := os.OpenFile(filepath.Join(dir, "audit.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"id\":\"torn\n")
	f.Close()
	code, out, errOut := evRun(t, "", "events", "list", "--dir", dir, "-o", "json")
	if code != 0 || len(evLines(out)) != 3 || !strings.Contains(out, ids[2]) || !strings.Contains(errOut, "skipped 1 lines") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
}

// TestEventsCAFile: an admin port serving HTTPS with a certificate from a
// CA of its own is read with --ca-file (or $TRAILCAR_CA_FILE); without it
// the certificate is refused, and a file that holds no certificate is a
// usage error naming the flag.
func TestEventsCAFile(t *testing.T) {
	ca := sidecartest.NewCA(t)
	caFile, certFile, keyFile := ca.Secret(t, t.TempDir(), 2, "localhost")
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.Config(t, up.URL)
	cfg.Admin.TLSCertFile, cfg.Admin.TLSKeyFile = certFile, keyFile
	sc := sidecartest.Start(t, cfg)
	resp, err := http.Post(sc.ProxyURL()+"/api/v3/widgets/1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc.WaitLine("the POST's event", func(l sidecartest.Line) bool { return l.Req.Method == "POST" })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(sc.AdminURL(), "https://"))
	server := "https://localhost:" + port // the name on the certificate
	code, out, errOut := evRun(t, "", "events", "list", "--server", server, "--ca-file", caFile, "--method", "POST", "-o", "json")
	if code != 0 || len(evLines(out)) != 1 {
		t.Fatalf("--ca-file: exit %d, %q %s", code, out, errOut)
	}
	t.Setenv("TRAILCAR_CA_FILE", caFile)
	if code, out, errOut = evRun(t, "", "events", "list", "--server", server, "--method", "POST", "-o", "json"); code != 0 || len(evLines(out)) != 1 {
		t.Fatalf("$TRAILCAR_CA_FILE: exit %d, %q %s", code, out, errOut)
	}
	t.Setenv("TRAILCAR_CA_FILE", "")
	if code, _, errOut = evRun(t, "", "events", "list", "--server", server); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("without the CA: exit %d, %s", code, errOut)
	}
	if code, _, errOut = evRun(t, "", "events", "list", "--server", server, "--ca-file", certFile+".missing"); code != 2 || !strings.Contains(errOut, "--ca-file") {
		t.Fatalf("a missing --ca-file: exit %d, %s", code, errOut)
	}
}
