// Command chaos runs the built trailcar binary through faults and attacks
// and checks every line of every file afterwards: run by .ci/chaos.sh.
//
//	go run ./internal/chaos -bin ./trailcar
//
// Scenarios: load with rotation, deletions and copytruncates of the live
// file; SIGTERM mid-load; SIGKILL mid-load and a restart; a full small
// filesystem (tmpfs when root, else RLIMIT_FSIZE); 1,000 clients sending
// bodies a byte at a time; the admin attacks of the hostile review (a
// costly filter glob, a page of huge events). Each prints what it measured;
// any broken promise fails the run (exit 1).
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	bin    = flag.String("bin", "./trailcar", "the trailcar binary")
	slow   = flag.Int("slow", 1000, "how many clients send their bodies a byte at a time")
	only   = flag.String("only", "", "run only the scenarios whose name holds this")
	failed atomic.Bool
)

func main() {
	flag.Parse()
	up := startUpstream()
	scenarios := []struct {
		name string
		run  func(up string)
	}{
		{"load, rotation, deletions and copytruncates", loadAndTamper},
		{"SIGTERM mid-load", sigterm},
		{"SIGKILL mid-load, then a restart", sigkill},
		{"a full small filesystem", fullDisk},
		{"1,000 clients sending bodies a byte at a time", slowClients},
		{"admin attacks: a costly glob, a page of huge events", adminAttacks},
	}
	for _, s := range scenarios {
		if !strings.Contains(s.name, *only) {
			continue
		}
		fmt.Printf("\n=== %s\n", s.name)
		start := time.Now()
		s.run(up)
		fmt.Printf("--- %s (%.1fs)\n", s.name, time.Since(start).Seconds())
	}
	if failed.Load() {
		fmt.Printf("\nCHAOS FAILED (the files are kept in %s)\n", root)
		os.Exit(1)
	}
	os.RemoveAll(root)
	fmt.Println("\nchaos: every promise held")
}

func check(ok bool, format string, args ...any) {
	status := "ok  "
	if !ok {
		status = "FAIL"
		failed.Store(true)
	}
	fmt.Printf("  %s %s\n", status, fmt.Sprintf(format, args...))
}

// startUpstream is the app: 200 to anything, the body read and discarded.
func startUpstream() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok\n"))
	}))
	return "http://" + ln.Addr().String()
}

// sidecar is a running trailcar process.
type sidecar struct {
	cmd          *exec.Cmd
	dir          string
	proxy, admin string
	stderr       *bytes.Buffer
	done         chan error
}

func freeAddr() string {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	return ln.Addr().String()
}

// start runs trailcar with config (YAML, the addresses and dir added);
// prefix, if set, is a command the binary runs under (prlimit).
func start(up, dir, config string, prefix ...string) *sidecar {
	s := &sidecar{dir: dir, proxy: freeAddr(), admin: freeAddr(), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cfgPath := filepath.Join(filepath.Dir(dir), "config-"+filepath.Base(dir)+".yaml")
	full := fmt.Sprintf("listen: %q\nupstream: %q\nadmin:\n  listen: %q\n", s.proxy, up, s.admin) + config
	if !strings.Contains(config, "activity_tracker:") {
		full += "activity_tracker:\n"
	}
	full = strings.Replace(full, "activity_tracker:\n", fmt.Sprintf("activity_tracker:\n  dir: %q\n", dir), 1)
	if err := os.WriteFile(cfgPath, []byte(full), 0o600); err != nil {
		panic(err)
	}
	args := append(append([]string{}, prefix...), *bin, "serve", "--config", cfgPath)
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		panic(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	for i := 0; i < 200; i++ {
		if resp, err := http.Get("http://" + s.admin + "/healthz"); err == nil {
			resp.Body.Close()
			return s
		}
		time.Sleep(25 * time.Millisecond)
	}
	panic("trailcar did not start: " + s.stderr.String())
}

// stop sends sig and returns the exit code.
func (s *sidecar) stop(sig syscall.Signal) int {
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return -1
	}
	return s.cmd.ProcessState.ExitCode()
}

// procStats are the process's peak RSS (MiB) and open descriptors now.
func (s *sidecar) procStats() (hwmMiB float64, fds int) {
	pid := s.cmd.Process.Pid
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			hwmMiB = float64(kb) / 1024
		}
	}
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return hwmMiB, len(entries)
}

// client makes requests that each get a fresh connection from a pool.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// load sends requests from conc goroutines until stop is closed or n are
// done; it returns the request ids of the answers it got.
func load(proxy string, conc, n int, stop <-chan struct{}) []string {
	var mu sync.Mutex
	var ids []string
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := next.Add(1)
				if n > 0 && i > int64(n) {
					return
				}
				resp, err := client.Post("http://"+proxy+"/api/v3/chaos/"+strconv.FormatInt(i, 10), "text/plain", strings.NewReader("x"))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					ids = append(ids, resp.Header.Get("X-Request-Id"))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return ids
}

// trail is what the audit files hold.
type trail struct {
	lines, torn, invalid, nul int
	ids                       map[string]int // event id -> times seen
	types                     map[string]int
	last                      string // the type of the last line of the live file
}

// readTrail reads every file under the dirs (gzip too), checking each line.
func readTrail(dirs ...string) trail {
	t := trail{ids: map[string]int{}, types: map[string]int{}}
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "config-") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if strings.HasSuffix(e.Name(), ".gz") {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					t.invalid++
					continue
				}
				data, _ = io.ReadAll(zr)
			}
			if bytes.IndexByte(data, 0) >= 0 {
				t.nul++
			}
			if len(data) > 0 && data[len(data)-1] != '\n' {
				t.torn++
			}
			for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				t.lines++
				var ev struct{ ID, Type string }
				if json.Unmarshal(line, &ev) != nil || len(ev.ID) != 32 {
					t.invalid++
					continue
				}
				t.ids[ev.ID]++
				t.types[ev.Type]++
				if e.Name() == "audit.log" {
					t.last = ev.Type
				}
			}
		}
	}
	return t
}

// wellFormed checks the lines of a trail.
func (t trail) wellFormed() {
	dups := 0
	for _, n := range t.ids {
		if n > 1 {
			dups++
		}
	}
	check(t.torn == 0 && t.invalid == 0 && t.nul == 0, "%d lines: %d torn, %d invalid, %d files with NUL bytes", t.lines, t.torn, t.invalid, t.nul)
	check(dups == 0, "no event written twice (%d ids seen more than once)", dups)
}

// missing counts the ids that are not in the trail.
func (t trail) missing(ids []string) int {
	n := 0
	for _, id := range ids {
		if t.ids[id] == 0 {
			n++
		}
	}
	return n
}

func mkdir(parts ...string) string {
	dir := filepath.Join(parts...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	return dir
}

var root = func() string {
	d, err := os.MkdirTemp("", "trailcar-chaos-")
	if err != nil {
		panic(err)
	}
	return d
}()

func loadAndTamper(up string) {
	dir := mkdir(root, "tamper", "logs")
	kept := mkdir(root, "tamper", "kept") // what was taken away, to account for every line
	s := start(up, dir, "activity_tracker:\n  max_size_mb: 1\n  max_files: 0\n")
	stop := make(chan struct{})
	var pause sync.RWMutex // held for writing while a copytruncate runs
	idsc := make(chan []string, 1)
	go func() {
		var ids []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					pause.RLock()
					got := load(s.proxy, 1, 20, nil)
					pause.RUnlock()
					mu.Lock()
					ids = append(ids, got...)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		idsc <- ids
	}()
	live := filepath.Join(dir, "audit.log")
	for i := 0; i < 5; i++ {
		time.Sleep(300 * time.Millisecond)
		// Deleted: a hard link keeps what it held, and what is written
		// to it before trailcar notices.
		os.Link(live, filepath.Join(kept, fmt.Sprintf("deleted-%d.log", i)))
		os.Remove(live)
		time.Sleep(300 * time.Millisecond)
		// copytruncate, as logrotate does it, with the load paused (the
		// copy and the truncation are not one step: lines between them
		// would be lost to logrotate, not to trailcar).
		pause.Lock()
		time.Sleep(50 * time.Millisecond)
		data, _ := os.ReadFile(live)
		os.WriteFile(filepath.Join(kept, fmt.Sprintf("copied-%d.log", i)), data, 0o600)
		os.Truncate(live, 0)
		pause.Unlock()
	}
	close(stop)
	ids := <-idsc
	code := s.stop(syscall.SIGTERM)
	t := readTrail(dir, kept)
	check(code == 0, "SIGTERM exit code %d", code)
	t.wellFormed()
	check(t.missing(ids) == 0, "%d answered requests, %d without an event (across %d rotations, 5 deletions, 5 copytruncates)", len(ids), t.missing(ids), countFiles(dir)-1)
	check(t.types["system.audit.file_replaced"] >= 5, "%d system.audit.file_replaced events for 5 deletions and 5 truncations", t.types["system.audit.file_replaced"])
}

func countFiles(dir string) int {
	entries, _ := os.ReadDir(dir)
	return len(entries)
}

func sigterm(up string) {
	dir := mkdir(root, "sigterm", "logs")
	s := start(up, dir, "activity_tracker:\n  max_size_mb: 1\n  max_files: 0\n")
	stop := make(chan struct{})
	idsc := make(chan []string, 1)
	go func() { idsc <- load(s.proxy, 16, 0, stop) }()
	time.Sleep(1500 * time.Millisecond)
	code := s.stop(syscall.SIGTERM) // mid-load: in-flight requests finish
	close(stop)
	ids := <-idsc
	t := readTrail(dir)
	check(code == 0, "exit code %d", code)
	t.wellFormed()
	check(t.missing(ids) == 0, "%d answered requests, %d without an event", len(ids), t.missing(ids))
	check(t.last == "system.trailcar.stopped" || t.last == "system.audit.checkpoint", "the live file ends with %s", t.last)
}

func sigkill(up string) {
	dir := mkdir(root, "sigkill", "logs")
	s := start(up, dir, "activity_tracker:\n  max_size_mb: 1\n  max_files: 0\n")
	stop := make(chan struct{})
	type answered struct {
		id string
		at time.Time
	}
	var mu sync.Mutex
	var got []answered
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post("http://"+s.proxy+"/api/v3/chaos/k", "text/plain", nil)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				got = append(got, answered{resp.Header.Get("X-Request-Id"), time.Now()})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	killed := time.Now()
	s.stop(syscall.SIGKILL)
	close(stop)
	wg.Wait()
	s2 := start(up, dir, "activity_tracker:\n  max_size_mb: 1\n  max_files: 0\n") // repairs a torn tail
	s2.stop(syscall.SIGTERM)
	t := readTrail(dir)
	t.wellFormed()
	lostOld, lostRecent := 0, 0
	var recentWindow time.Duration
	for _, a := range got {
		if t.ids[a.id] == 0 {
			if killed.Sub(a.at) > 100*time.Millisecond {
				lostOld++
			} else {
				lostRecent++
				recentWindow = max(recentWindow, killed.Sub(a.at))
			}
		}
	}
	check(lostOld == 0, "%d answered requests; none answered more than 100 ms before the kill is missing (%d are)", len(got), lostOld)
	fmt.Printf("  info %d events of answers in the last 100 ms before SIGKILL were lost (the newest %v before it): queued, not yet written\n", lostRecent, recentWindow.Round(time.Millisecond))
}

func fullDisk(up string) {
	base := mkdir(root, "full")
	dir := filepath.Join(base, "logs")
	var prefix []string
	how := ""
	if os.Geteuid() == 0 && exec.Command("mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", mkdir(dir)).Run() == nil {
		defer exec.Command("umount", dir).Run()
		how = "a 1.5 MiB tmpfs"
	} else {
		mkdir(dir)
		prefix = []string{"prlimit", "--fsize=700000"} // the live file cannot grow past 700 kB
		how = "RLIMIT_FSIZE 700 kB"
	}
	s := start(up, dir, "activity_tracker:\n  max_size_mb: 1\n  max_files: 3\n  queue: 100\n", prefix...)
	ids := load(s.proxy, 8, 6000, nil)
	hwm, _ := s.procStats()
	// Make room: the operator removes the rotated files.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "audit.log" {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if prefix != nil {
		os.Truncate(filepath.Join(dir, "audit.log"), 0) // under RLIMIT_FSIZE only a shorter file helps
	}
	// The writer retries (backoff up to 1 s); until it succeeds, a full
	// queue drops. Wait for its recovery, then load again.
	for i := 0; i < 100 && readTrail(dir).types["system.audit.write_recovered"] == 0; i++ {
		load(s.proxy, 1, 1, nil)
		time.Sleep(100 * time.Millisecond)
	}
	after := load(s.proxy, 4, 200, nil)
	metrics := scrape(s.admin)
	code := s.stop(syscall.SIGTERM)
	t := readTrail(dir)
	fmt.Printf("  info %s: %d requests answered while full, %d after room was made, peak RSS %.1f MiB\n", how, len(ids), len(after), hwm)
	check(len(ids) == 6000, "fail_open: every request answered while the disk was full (%d of 6000)", len(ids))
	t.wellFormed()
	check(t.types["system.audit.write_failed"] >= 1 && t.types["system.audit.write_recovered"] >= 1, "write_failed %d, write_recovered %d", t.types["system.audit.write_failed"], t.types["system.audit.write_recovered"])
	check(t.missing(after) == 0, "after room was made, every answered request has its event (%d missing)", t.missing(after))
	dropped := metrics[`trailcar_events_dropped_total{reason="write_error"}`]
	check(dropped > 0 && t.types["system.audit.dropped"] > 0, "drops while full: %v counted, %d system.audit.dropped events", dropped, t.types["system.audit.dropped"])
	check(code == 0, "SIGTERM exit code %d", code)
}

// scrape reads the admin port's metrics, by series.
func scrape(admin string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			v, _ := strconv.ParseFloat(line[i+1:], 64)
			out[line[:i]] = v
		}
	}
	return out
}

func slowClients(up string) {
	dir := mkdir(root, "slow", "logs")
	s := start(up, dir, "")
	_, fds0 := s.procStats()
	var conns []net.Conn
	for range *slow {
		c, err := net.Dial("tcp", s.proxy)
		if err != nil {
			continue
		}
		c.Write([]byte("POST /api/v3/chaos/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"))
		conns = append(conns, c)
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Second):
				for _, c := range conns {
					c.Write([]byte("x")) // a byte every 2 s each
				}
			}
		}
	}()
	// Ordinary clients are still served meanwhile.
	t0 := time.Now()
	ok := load(s.proxy, 4, 200, nil)
	served := time.Since(t0)
	_, fdsDuring := s.procStats()
	// Every slow client is cut within the grace (10 s) and a little.
	deadline := time.Now().Add(40 * time.Second)
	cut := 0
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err == nil && resp.StatusCode == http.StatusRequestTimeout {
			cut++
		}
	}
	close(stop)
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	hwm, fdsAfter := s.procStats()
	s.stop(syscall.SIGTERM)
	fmt.Printf("  info fds %d before, %d with %d slow clients, %d after; 200 ordinary requests took %v meanwhile\n", fds0, fdsDuring, len(conns), fdsAfter, served.Round(time.Millisecond))
	check(len(ok) == 200, "ordinary requests answered while %d clients trickle (%d of 200)", len(conns), len(ok))
	check(cut == len(conns), "%d of %d slow clients cut with 408 (after the 10 s grace; past 1,024 they wait for a slot)", cut, len(conns))
	check(hwm <= 64, "peak RSS %.1f MiB (at most 64)", hwm)
	check(fdsAfter <= fds0+10, "descriptors back to %d (from %d)", fdsAfter, fds0)
	t := readTrail(dir)
	t.wellFormed()
}

func adminAttacks(up string) {
	dir := mkdir(root, "admin", "logs")
	s := start(up, dir, "")
	// Case 1: a filter glob whose matching would be polynomial.
	http.Post("http://"+s.proxy+"/"+strings.Repeat("a", 40), "text/plain", nil)
	resp, err := http.Get("http://" + s.admin + "/api/v3/events?resource=" + "/**/*a*a*a*a*a*a*a*a*z*")
	status := 0
	if err == nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	hwm1, _ := s.procStats()
	check(status == 400, "costly resource glob answered %d (want 400), peak RSS %.1f MiB", status, hwm1)
	// Case 2: 1,000 events with 60 KB paths, then the viewer's page of 1,000.
	var wg sync.WaitGroup
	path := "/" + strings.Repeat("p", 60<<10)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 1000; i += 8 {
				if resp, err := client.Post("http://"+s.proxy+path+strconv.Itoa(i), "text/plain", nil); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	resp, err = http.Get("http://" + s.admin + "/api/v3/events?limit=1000")
	n, items := int64(0), 0
	if err == nil {
		var page struct {
			Results []json.RawMessage `json:"results"`
		}
		body, _ := io.ReadAll(resp.Body)
		n = int64(len(body))
		json.Unmarshal(body, &page)
		items = len(page.Results)
		resp.Body.Close()
	}
	runtime.GC()
	hwm2, _ := s.procStats()
	s.stop(syscall.SIGTERM)
	check(n <= 9<<20, "the page of 1,000 huge events: %d events, %.1f MB body (budget 8 MiB), next_cursor goes on", items, float64(n)/1e6)
	check(hwm2 <= 64, "peak RSS %.1f MiB (at most 64)", hwm2)
	t := readTrail(dir)
	t.wellFormed()
}
