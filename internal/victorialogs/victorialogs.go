// Package victorialogs runs VictoriaLogs, the log store the shipping
// tests send to (docs/shipping.md "Tested against VictoriaLogs"), on
// loopback: one node, or a cluster of storage nodes behind a front. The
// binary is the one .ci/victorialogs.sh builds from the Go module proxy;
// a test that finds neither it nor a way to build it is skipped, loudly.
package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the VictoriaLogs the tests run; .ci/victorialogs.sh pins
// the same.
const Version = "v1.52.2"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of the victoria-logs binary, building it with
// .ci/victorialogs.sh when it is not there yet ($TRAILCAR_VICTORIALOGS
// names another binary).
func Binary() (string, error) {
	binOnce.Do(func() {
		if p := os.Getenv("TRAILCAR_VICTORIALOGS"); p != "" {
			binPath = p
			return
		}
		script, err := findScript()
		if err != nil {
			binErr = err
			return
		}
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("%s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	if binErr != nil {
		return "", binErr
	}
	if _, err := os.Stat(binPath); err != nil {
		return "", err
	}
	return binPath, nil
}

// findScript walks up from the working directory to the module's root.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".ci", "victorialogs.sh"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Node is one running victoria-logs process.
type Node struct {
	Addr string // host:port of its HTTP listener
	URL  string // http://Addr
	t    testing.TB
	args []string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs a single-node VictoriaLogs on a free loopback port with its
// data in a temporary dir; it is stopped when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	return start(t, nil)
}

// StartCluster runs storage nodes and one front (insert and select) that
// spreads the lines over them (-storageNode); the front is returned, the
// storage nodes too, for tests that stop one.
func StartCluster(t testing.TB, storageNodes int) (front *Node, storage []*Node) {
	t.Helper()
	var addrs []string
	for range storageNodes {
		n := start(t, nil)
		storage = append(storage, n)
		addrs = append(addrs, n.Addr)
	}
	front = start(t, []string{"-storageNode=" + strings.Join(addrs, ",")})
	return front, storage
}

func start(t testing.TB, extra []string) *Node {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Skipf("SKIPPED: no VictoriaLogs %s to ship to, and it could not be built (run .ci/victorialogs.sh, or set TRAILCAR_VICTORIALOGS): %v", Version, err)
	}
	n := &Node{t: t, dir: t.TempDir(), Addr: freeAddr(t)}
	n.URL = "http://" + n.Addr
	n.args = append([]string{
		"-httpListenAddr=" + n.Addr,
		"-storageDataPath=" + filepath.Join(n.dir, "data"),
		"-retentionPeriod=10y",
		"-loggerLevel=WARN",
		"-memory.allowedBytes=256MiB",
	}, extra...)
	n.run()
	t.Cleanup(n.Stop)
	return n
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// run starts the process and waits for /health.
func (n *Node) run() {
	n.t.Helper()
	bin, _ := Binary()
	log, err := os.OpenFile(filepath.Join(n.dir, "victoria-logs.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd = exec.Command(bin, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		log.Close()
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); log.Close(); close(n.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-n.done:
			n.t.Fatalf("victoria-logs %v exited at start: %s", n.args, n.Log())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("victoria-logs on %s not healthy after 30 s: %s", n.Addr, n.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is the process's output so far, for failure messages.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "victoria-logs.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// LogLines are the lines of the process's whole output (every run of
// it) that hold s: a test asks the store's own log whether it dropped
// data it had acknowledged.
func (n *Node) LogLines(s string) []string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "victoria-logs.log"))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits.
// Its data stays for Restart.
func (n *Node) Stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// Restart starts the stopped node again, on the same port with the same
// data.
func (n *Node) Restart() {
	n.t.Helper()
	n.run()
}

// Query runs a LogsQL query over all time (/select/logsql/query) and
// returns its rows.
func (n *Node) Query(query string) ([]map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL+"/select/logsql/query",
		strings.NewReader(url.Values{"query": {query}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("query %q: %s: %s", query, resp.Status, b)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("query %q: row %q: %w", query, sc.Bytes(), err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// Counts are what the store holds: documents, and distinct event ids.
type Counts struct{ Docs, IDs int }

// Count counts the documents and their distinct ids (the id field, as
// the Elasticsearch bulk API stores the line).
func (n *Node) Count() (Counts, error) { return n.CountField("id") }

// CountField counts the documents and the distinct values of field
// (event.id for OTLP's attributes).
func (n *Node) CountField(field string) (Counts, error) {
	rows, err := n.Query(fmt.Sprintf("* | stats count() docs, count_uniq(%q) ids", field))
	if err != nil {
		return Counts{}, err
	}
	if len(rows) != 1 {
		return Counts{}, fmt.Errorf("count: %d rows", len(rows))
	}
	docs, err1 := strconv.Atoi(rows[0]["docs"])
	ids, err2 := strconv.Atoi(rows[0]["ids"])
	if err := errors.Join(err1, err2); err != nil {
		return Counts{}, fmt.Errorf("count: %v: %w", rows[0], err)
	}
	return Counts{Docs: docs, IDs: ids}, nil
}

// WaitCount polls Count until it has want distinct ids (the store makes
// lines searchable a second or two after it takes them; a cluster's front
// holds them up to a second more) or timeout passes, and returns the last
// count. It waits on ids, not documents: after a crash the duplicates
// would reach want documents before the last lines are searchable.
func (n *Node) WaitCount(want int, timeout time.Duration) (Counts, error) {
	return n.WaitCountField("id", want, timeout)
}

// WaitCountField is WaitCount with CountField.
func (n *Node) WaitCountField(field string, want int, timeout time.Duration) (Counts, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := n.CountField(field)
		if err == nil && c.IDs >= want || time.Now().After(deadline) {
			if err == nil && c.IDs >= want {
				// Let anything still in flight land: a duplicate would show
				// a moment later.
				time.Sleep(1500 * time.Millisecond)
				c, err = n.CountField(field)
			}
			return c, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
