package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/victorialogs"
	"github.com/trailcar/trailcar/rotate"
)

// TestShipChaosToVictoriaLogsCluster: issue 24's "every line once"
// through the real binary. `trailcar serve` with ship.enabled, 1 MiB
// rotation, gzip and 5 files kept, under proxy load from four clients the
// whole time, ships to a VictoriaLogs cluster (two storage nodes behind
// one insert/select front) while
//
//   - a storage node is stopped for 30 s (the front routes its share to
//     the other node),
//   - the front is stopped for 30 s (SIGTERM; the shipper retries),
//   - the sidecar is SIGKILLed during the front's outage, with a batch
//     being retried, and restarted on the same dir and ports,
//   - the sidecar is SIGKILLed again as the catch-up begins once the
//     front is back: the front has taken a full batch and its answer is
//     held from the shipper (the worst moment: that batch is sent
//     again), and restarted.
//
// At the end the load stops, the sidecar catches up and is stopped with
// SIGTERM. Every line of every file (gzip ones included; the sidecar's
// own records and checkpoints too) is in the store: distinct ids = lines,
// the ids the same set, no line lost (the lost counter stays 0 and no
// system.ship.lost is written), and the documents beyond one per id are
// at most one batch per SIGKILL. Once with the Elasticsearch bulk API,
// once with OTLP.
//
// The front answers a batch before its storage nodes have it, and holds
// it for up to a second; stopped right then, it drops it (its log:
// "dropping N bytes of data, since there are no available storage
// nodes"), a loss no shipper can see. So the shipper reaches the front
// through a gate in the test, as a Kubernetes Service takes a
// terminating pod out of its endpoints: the gate is closed (the requests
// in flight finish, new ones are answered 503), the front is given 2.5 s
// to pass on what it holds, then it gets its SIGTERM. The test fails if
// the front's log says it dropped anything.
func TestShipChaosToVictoriaLogsCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary: two runs of about 90 s")
	}
	if sidecartest.RaceEnabled {
		t.Skip("SKIPPED under -race: two runs of about 90 s with 60 s of store outages each, timed against the shipper's backoff; " +
			"the race run covers the shipper in the short tests (internal/ship, sidecar TestShipToVictoriaLogs, TestShipBinary)")
	}
	bin := coreBuildBinary(t, t.TempDir())
	t.Run("elasticsearch", func(t *testing.T) {
		shipChaos(t, bin, "elasticsearch", "/insert/elasticsearch?_msg_field=message&_time_field=eventTime&_stream_fields=service,host,req.path", "id")
	})
	t.Run("otlp", func(t *testing.T) {
		shipChaos(t, bin, "otlp", "/insert/opentelemetry?_stream_fields=service.name,url.path", "event.id")
	})
}

const (
	chaosBatch   = 500 // ship.batch.max_lines: the duplicates' bound is one of these per SIGKILL
	chaosKills   = 2
	chaosOutage  = 30 * time.Second
	chaosClients = 4
	// chaosEvery paces each client: 80 requests a second, about 3 MiB of
	// lines in the run (lines of about 460 bytes, 80 s), so that the 5
	// files kept (1 MiB each) hold every line at the end and no line can
	// be pruned before it is shipped; yet 2 rotations or more.
	chaosEvery = 50 * time.Millisecond
)

func shipChaos(t *testing.T, bin, protocol, ingest, idField string) {
	begin := time.Now()
	front, storage := victorialogs.StartCluster(t, 2)
	gate := newShipGate(t, front.URL)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(201)
	}))
	defer up.Close()
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	config := filepath.Join(root, "trailcar.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`upstream: %q
service: shipchaos
activity_tracker:
  dir: %q
  max_size_mb: 1
  max_files: 5
  compress: true
ship:
  enabled: true
  protocol: %s
  url: %q
  batch: { max_lines: %d }
`, up.URL, dir, protocol, gate.URL+ingest, chaosBatch)), 0o600); err != nil {
		t.Fatal(err)
	}
	proxyAddr, adminAddr := coreFreeAddr(t), coreFreeAddr(t)
	start := func() *coreProcess {
		t.Helper()
		p := coreStartProcess(t, bin, nil, "serve", "--config", config, "--listen", proxyAddr, "--admin-listen", adminAddr)
		go io.Copy(io.Discard, p.stdout)
		deadline := time.Now().Add(coreWait)
		for {
			if resp, err := http.Get("http://" + adminAddr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p
				}
			}
			select {
			case <-p.done:
				t.Fatalf("trailcar serve exited at start: %v\n%s", p.err, p.stderr)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("trailcar serve not healthy after %v:\n%s", coreWait, p.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The ship metrics, sampled all along: a SIGKILL takes a process's
	// counters with it, so lost and rejected are watched while it lives.
	watch := newShipWatch(adminAddr)
	defer watch.stop()
	kill := func(p *coreProcess) {
		t.Helper()
		watch.sample()
		p.cmd.Process.Kill()
		<-p.done
	}

	p := start()
	load := startChaosLoad("http://"+proxyAddr, chaosClients, chaosEvery)
	defer load.halt()

	// A storage node away for 30 s while the shipper ships: the front
	// routes its share to the other one.
	time.Sleep(5 * time.Second)
	storageDown := time.Now()
	storage[1].Stop()
	time.Sleep(chaosOutage)
	storage[1].Restart()
	storageOutage := time.Since(storageDown)

	// The front away for 30 s, drained first (see above).
	time.Sleep(3 * time.Second)
	frontDown := time.Now()
	gate.close()
	time.Sleep(2500 * time.Millisecond)
	front.Stop()
	// The first SIGKILL, with a batch being sent again and again, 20 s
	// into the outage: the restarted shipper's backoff (from 250 ms) then
	// tries again within about 10 s of the front's return, which keeps
	// the run, and so the bytes written, in bounds.
	time.Sleep(chaosOutage * 2 / 3)
	okBefore := gate.ok.Load()
	kill(p)
	p = start()
	time.Sleep(chaosOutage - chaosOutage*2/3)
	front.Restart()

	// The second SIGKILL at the worst moment of the catch-up: the front
	// has taken the first batch (a full one, of lines written during the
	// outage) and the shipper has not heard it yet. That batch is sent
	// again: the one batch a crash may send twice.
	held := gate.holdNext()
	gate.open()
	frontOutage := time.Since(frontDown)
	if gate.ok.Load() != okBefore {
		t.Errorf("%d batches delivered through a closed gate", gate.ok.Load()-okBefore)
	}
	var release chan struct{}
	select {
	case release = <-held:
	case <-time.After(45 * time.Second):
		t.Fatalf("no batch delivered within 45 s of the front coming back:\n%s", p.stderr)
	}
	firstAfter := time.Since(frontDown) - frontOutage
	kill(p)
	close(release)
	p = start()

	time.Sleep(3 * time.Second)
	load.halt()
	loadFor := time.Since(begin)

	// Caught up: the position is the live file's last line.
	stopped := time.Now()
	live := filepath.Join(dir, "audit.log")
	for deadline := time.Now().Add(60 * time.Second); ; {
		pos, _ := ship.LoadPosition(filepath.Join(dir, ship.PositionFile))
		if last := lastLineID(live); last != "" && pos.ID == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up 60 s after the load stopped: position %+v, last line %s\n%s", pos, lastLineID(live), p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	caughtUp := time.Since(stopped)
	watch.sample()
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("trailcar serve exit %d after SIGTERM:\n%s", code, p.stderr)
	}

	f := readChaosFiles(t, dir)
	if f.invalid > 0 || f.lost > 0 || f.rejected > 0 {
		t.Errorf("files: %d lines that do not decode, %d system.ship.lost, %d system.ship.rejected", f.invalid, f.lost, f.rejected)
	}
	if f.noID > 0 {
		t.Errorf("files: %d lines without an id", f.noID)
	}
	if lost, rejected := watch.max("lost"), watch.max("rejected"); lost != 0 || rejected != 0 || watch.max("shipped") == 0 {
		t.Errorf("trailcar_ship_lines_total: lost up to %v, rejected up to %v, shipped up to %v; want 0, 0 and some", lost, rejected, watch.max("shipped"))
	}
	if f.rotated < 2 {
		t.Errorf("only %d rotated files: the run did not rotate enough to test rotation", f.rotated)
	}

	if c, err := front.WaitCountField(idField, len(f.ids), 60*time.Second); err != nil || c.IDs < len(f.ids) {
		t.Errorf("after 60 s the store has %+v (%v) of %d lines", c, err, len(f.ids))
	}
	got, err := storeIDCounts(front, idField)
	if err != nil {
		t.Fatal(err)
	}
	docs, dups, missing, extra := 0, 0, 0, 0
	var missingTypes []string
	for id, c := range got {
		docs += c
		dups += c - 1
		if !f.ids[id] {
			extra++
		}
	}
	for i, id := range f.order {
		if got[id] == 0 {
			missing++
			if len(missingTypes) < 10 {
				missingTypes = append(missingTypes, fmt.Sprintf("line %d %s", i+1, f.types[id]))
			}
		}
	}
	a, _ := storage[0].CountField(idField)
	b, _ := storage[1].CountField(idField)
	t.Logf("%s: %d lines (%.1f MiB) written in %d files (%d gzip-rotated; %d checkpoints, %d system records), %d proxy requests answered, %d failed while the sidecar was down",
		protocol, f.lines, float64(f.bytes)/(1<<20), f.rotated+1, f.rotated, f.checkpoints, f.system, load.ok.Load(), load.failed.Load())
	t.Logf("%s: store %d documents, %d distinct ids (storage nodes %d and %d documents), %d duplicates (bound %d: %d SIGKILLs × %d), %d missing, %d not in the files",
		protocol, docs, len(got), a.Docs, b.Docs, dups, chaosKills*chaosBatch, chaosKills, chaosBatch, missing, extra)
	t.Logf("%s: %d batches delivered, %d requests failed; outages: storage node %v, front %v (first batch %v after it was back); load ran %v; caught up %v after it stopped",
		protocol, gate.ok.Load(), gate.failed.Load(), storageOutage.Round(time.Millisecond), frontOutage.Round(time.Millisecond),
		firstAfter.Round(time.Millisecond), loadFor.Round(time.Second), caughtUp.Round(time.Millisecond))
	t.Logf("%s: ship lag up to %.1f s", protocol, watch.max("lag"))
	if dropped := front.LogLines("dropping"); len(dropped) > 0 {
		t.Errorf("the VictoriaLogs front dropped data it had acknowledged:\n%s", strings.Join(dropped, "\n"))
	}
	if missing != 0 || extra != 0 || len(got) != f.lines {
		t.Fatalf("%d lines in the files, %d distinct ids in the store: %d missing (%v), %d not in the files; the last sidecar's shipper said:\n%s",
			f.lines, len(got), missing, missingTypes, extra, grepLines([]byte(p.stderr.String()), "ship"))
	}
	if dups > chaosKills*chaosBatch {
		t.Errorf("%d duplicates, more than one batch (%d) per SIGKILL (%d)", dups, chaosBatch, chaosKills)
	}
	if a.Docs == 0 || b.Docs == 0 {
		t.Errorf("storage nodes hold %d and %d documents: the front did not spread the lines", a.Docs, b.Docs)
	}
}

// shipGate is the shipper's way to the VictoriaLogs front: a reverse
// proxy that can be closed (new requests answered 503, the ones in
// flight finished) so that the front holds nothing when it is stopped.
type shipGate struct {
	URL      string
	mu       sync.Mutex
	closed   bool
	held     chan chan struct{} // armed by holdNext
	inflight sync.WaitGroup
	proxy    *httputil.ReverseProxy
	// ok counts the ingest requests the front answered 2xx (delivered
	// batches); failed the others, the gate's 503s and the proxy's 502s
	// included.
	ok, failed atomic.Int64
}

func newShipGate(t *testing.T, target string) *shipGate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &shipGate{proxy: httputil.NewSingleHostReverseProxy(u)}
	g.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusBadGateway) // the front is down
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

func (g *shipGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.failed.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Error(w, "gate closed", http.StatusServiceUnavailable)
		return
	}
	g.inflight.Add(1)
	g.mu.Unlock()
	defer g.inflight.Done()
	// The front's answer is taken whole, then passed on: holdNext can
	// keep a delivered batch's answer from the shipper.
	rec := httptest.NewRecorder()
	g.proxy.ServeHTTP(rec, r)
	if rec.Code/100 != 2 {
		g.failed.Add(1)
	} else {
		g.ok.Add(1)
		g.mu.Lock()
		held := g.held
		g.held = nil
		g.mu.Unlock()
		if held != nil {
			release := make(chan struct{})
			held <- release
			select {
			case <-release:
			case <-time.After(time.Minute): // the test failed before releasing it: do not hang its server's Close
			}
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// holdNext keeps the next 2xx answer from the shipper: the store has the
// batch, the shipper does not know it yet. The returned channel yields,
// once the answer is held, the channel that releases it.
func (g *shipGate) holdNext() <-chan chan struct{} {
	held := make(chan chan struct{}, 1)
	g.mu.Lock()
	g.held = held
	g.mu.Unlock()
	return held
}

// close answers new requests 503 and waits for the ones in flight.
func (g *shipGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.inflight.Wait()
}

func (g *shipGate) open() {
	g.mu.Lock()
	g.closed = false
	g.mu.Unlock()
}

// chaosLoad is proxy traffic from a few clients, paced, until halt. A
// request that fails (the sidecar is down) is counted and the client
// goes on.
type chaosLoad struct {
	quit       chan struct{}
	once       sync.Once
	wg         sync.WaitGroup
	ok, failed atomic.Int64
}

func startChaosLoad(proxy string, clients int, every time.Duration) *chaosLoad {
	l := &chaosLoad{quit: make(chan struct{})}
	for i := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			tick := time.NewTicker(every)
			defer tick.Stop()
			for j := 0; ; j++ {
				select {
				case <-l.quit:
					return
				case <-tick.C:
				}
				// Eight paths per client: streams the front spreads over
				// its storage nodes.
				resp, err := client.Post(fmt.Sprintf("%s/api/v3/things/c%d-%d", proxy, i, j%8), "application/json", strings.NewReader(`{"name":"x"}`))
				if err != nil {
					l.failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					l.ok.Add(1)
				} else {
					l.failed.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *chaosLoad) halt() {
	l.once.Do(func() { close(l.quit) })
	l.wg.Wait()
}

// shipWatch samples the sidecar's ship metrics every 100 ms and keeps
// the largest value seen of lost, rejected and the lag.
type shipWatch struct {
	admin string
	mu    sync.Mutex
	maxes map[string]float64
	quit  chan struct{}
	done  chan struct{}
}

func newShipWatch(admin string) *shipWatch {
	w := &shipWatch{admin: admin, maxes: map[string]float64{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
			w.sample()
		}
	}()
	return w
}

func (w *shipWatch) sample() {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + w.admin + "/metrics")
	if err != nil {
		return // the sidecar is down or starting
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	names := map[string]string{
		`trailcar_ship_lines_total{result="lost"}`:     "lost",
		`trailcar_ship_lines_total{result="shipped"}`:  "shipped",
		`trailcar_ship_lines_total{result="rejected"}`: "rejected",
		`trailcar_ship_lag_seconds`:                    "lag",
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if key, ok := names[line[:i]]; ok {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && v > w.maxes[key] {
				w.maxes[key] = v
			}
		}
	}
}

func (w *shipWatch) max(key string) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxes[key]
}

func (w *shipWatch) stop() {
	close(w.quit)
	<-w.done
}

// chaosFiles is what the log dir holds, read from every file, gzip ones
// included.
type chaosFiles struct {
	lines, rotated, checkpoints, system int
	bytes                               int64 // uncompressed
	invalid, noID, lost, rejected       int
	ids                                 map[string]bool
	order                               []string          // the ids in file order
	types                               map[string]string // by id
}

func readChaosFiles(t *testing.T, dir string) chaosFiles {
	t.Helper()
	f := chaosFiles{ids: map[string]bool{}, types: map[string]string{}}
	infos, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if !in.Live {
			f.rotated++
		}
		r, err := openAny(in)
		if err != nil {
			t.Fatalf("%s: %v", in.Path, err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", in.Path, err)
		}
		f.bytes += int64(len(data))
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var l struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}
			if line[len(line)-1] != '\n' || json.Unmarshal(line, &l) != nil {
				f.invalid++
				continue
			}
			f.lines++
			if l.ID == "" {
				f.noID++
				continue
			}
			if f.ids[l.ID] {
				t.Errorf("id %s twice in the files", l.ID)
			}
			f.ids[l.ID], f.types[l.ID] = true, l.Type
			f.order = append(f.order, l.ID)
			switch {
			case strings.Contains(l.Type, "checkpoint"):
				f.checkpoints++
			case l.Type == "system.ship.lost":
				f.lost++
			case l.Type == "system.ship.rejected":
				f.rejected++
			}
			if strings.HasPrefix(l.Type, "system.") {
				f.system++
			}
		}
	}
	return f
}

// lastLineID is the id of the live file's last whole line.
func lastLineID(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	data = bytes.TrimRight(data, "\n")
	line := data[bytes.LastIndexByte(data, '\n')+1:]
	var l struct {
		ID string `json:"id"`
	}
	json.Unmarshal(line, &l)
	return l.ID
}

// storeIDCounts is how many documents the store holds of each id.
func storeIDCounts(n *victorialogs.Node, field string) (map[string]int, error) {
	rows, err := n.Query(fmt.Sprintf("* | stats by (%q) count() c", field))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, row := range rows {
		c, err := strconv.Atoi(row["c"])
		if err != nil {
			return nil, fmt.Errorf("row %v: %w", row, err)
		}
		out[row[field]] += c
	}
	return out, nil
}
