package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// clusterPod is one trailcar process of the cluster test.
type clusterPod struct {
	ip, host, admin, proxy, dir string
	p                           *coreProcess
}

// TestClusterProcesses runs four trailcar processes on 127.0.0.2-5 (each
// its own admin and proxy port, log dir and events) that list each other
// as peers, with writers writing to all of them all along:
//   - pages through one pod are newest first, and hold every event of the
//     four pods' files exactly once;
//   - the CLI's --server gets the cluster answer, --local one pod's;
//   - faults: a pod killed (SIGKILL), a peer that accepts and never
//     answers, one that answers 500, one whose token differs: the answer
//     is partial within timeout + 200 ms and names each, and the CLI
//     warns on stderr and exits 0.
func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := coreBuildBinary(t, dir)
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("cluster-token\n"), 0o600)
	otherToken := filepath.Join(dir, "other-token")
	os.WriteFile(otherToken, []byte("another-token\n"), 0o600)

	// One admin port number on every address, as behind a headless Service.
	port := freePortOn(t, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8")
	hang := listenOn(t, "127.0.0.6", port) // accepts, never answers
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	failing := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})}
	go failing.Serve(listenOn(t, "127.0.0.7", port))
	defer failing.Close()

	var pods []*clusterPod
	var peers []string
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.8"} {
		pods = append(pods, &clusterPod{ip: ip, host: fmt.Sprintf("pod-%d", i), admin: fmt.Sprintf("%s:%d", ip, port), dir: filepath.Join(dir, fmt.Sprintf("logs-%d", i))})
		peers = append(peers, fmt.Sprintf("http://%s:%d", ip, port))
	}
	healthy := pods[:4]
	start := func(pod *clusterPod, peerList []string, token string) {
		cfg := filepath.Join(dir, pod.host+".yaml")
		quoted, _ := json.Marshal(peerList)
		os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: "%s:0"
upstream: %q
host: %s
admin:
  listen: %q
  token_file: %q
activity_tracker:
  dir: %q
cluster:
  peers: %s
  timeout: 1s
`, pod.ip, up.URL, pod.host, pod.admin, token, pod.dir, quoted)), 0o600)
		pod.p = coreStartProcess(t, bin, nil, "serve", "--config", cfg)
		pod.proxy, _ = coreStartedAddrs(t, filepath.Join(pod.dir, "audit.log"))
		sidecartest.Eventually(t, pod.host+" serving", func() bool {
			resp, err := http.Get("http://" + pod.admin + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
	}
	for _, pod := range healthy {
		start(pod, peers[:4], tokenFile)
	}
	auth := []string{"Authorization", "Bearer cluster-token"}

	// Writers: some events on every pod, then more all along the paging.
	for i, pod := range healthy {
		for j := range 30 + 15*i {
			corePost(t, "http://"+pod.proxy+fmt.Sprintf("/api/v3/widgets/%d-%d", i, j), "")
		}
	}
	time.Sleep(100 * time.Millisecond) // the writers' linger
	before := time.Now().UTC()
	time.Sleep(10 * time.Millisecond)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, pod := range healthy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				corePost(t, "http://"+pod.proxy+fmt.Sprintf("/api/v3/late/%d-%d", i, j), "")
				time.Sleep(3 * time.Millisecond)
			}
		}()
	}
	q := url.Values{"method": {"POST"}, "before": {before.Format(time.RFC3339Nano)}, "limit": {"13"}}
	var got []string
	var last string
	for page := 0; ; page++ {
		p := clusterGet(t, "http://"+healthy[0].admin+"/api/v3/events?"+q.Encode(), auth)
		if p.Partial || len(p.Peers) != 3 {
			t.Fatalf("page %d: partial %v, peers %+v", page, p.Partial, p.Peers)
		}
		for _, e := range p.Results {
			k := e.Time + e.ID
			if last != "" && k > last {
				t.Fatalf("page %d: not newest first: %s after %s", page, k, last)
			}
			last = k
			got = append(got, e.ID)
		}
		if p.NextCursor == nil {
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	stop.Store(true)
	wg.Wait()
	var want []string
	for _, pod := range healthy {
		for _, l := range sidecartest.ReadLines(t, pod.dir, "") {
			if l.Req.Method == "POST" && l.Time.Before(before) {
				want = append(want, l.ID)
			}
		}
	}
	if len(want) != 30+45+60+75 {
		t.Fatalf("the files hold %d events before the paging; want 210", len(want))
	}
	slices.Sort(want)
	sorted := slices.Sorted(slices.Values(got))
	if !slices.Equal(sorted, want) {
		t.Fatalf("paged %d events (%d distinct); the files hold %d", len(got), len(slices.Compact(slices.Clone(sorted))), len(want))
	}

	// The CLI: the cluster answer, and --local.
	code, out, errOut := evRun(t, "", "events", "list", "--server", "http://"+healthy[1].admin, "--token-file", tokenFile,
		"--before", before.Format(time.RFC3339Nano), "--method", "POST", "--all", "-o", "json")
	if code != 0 || strings.Count(out, `"eventTime":`) != 210 || errOut != "" {
		t.Fatalf("events list --server: exit %d, %d events, stderr %q", code, strings.Count(out, `"eventTime":`), errOut)
	}
	code, out, _ = evRun(t, "", "events", "list", "--server", "http://"+healthy[1].admin, "--token-file", tokenFile, "--local",
		"--before", before.Format(time.RFC3339Nano), "--method", "POST", "--all", "-o", "json")
	if code != 0 || strings.Count(out, `"eventTime":`) != 45 {
		t.Fatalf("events list --local: exit %d, %d events", code, strings.Count(out, `"eventTime":`))
	}

	// Faults, asked of a pod that lists them all: one more trailcar with
	// another token, a hanging peer, a failing one, and a pod killed.
	start(pods[4], peers[:4], otherToken)
	asker := pods[0]
	asker.p.stop(syscall.SIGTERM)
	all := append(slices.Clone(peers), fmt.Sprintf("http://127.0.0.6:%d", port), fmt.Sprintf("http://127.0.0.7:%d", port))
	start(asker, all, tokenFile)
	killed := healthy[3]
	killed.p.cmd.Process.Signal(syscall.SIGKILL)
	<-killed.p.done

	t0 := time.Now()
	p := clusterGet(t, "http://"+asker.admin+"/api/v3/events?limit=5", auth)
	took := time.Since(t0)
	if took > time.Second+200*time.Millisecond {
		t.Errorf("a partial answer took %v; want within the 1s timeout + 200ms", took)
	}
	if !p.Partial || len(p.Results) != 5 {
		t.Fatalf("partial %v, %d results", p.Partial, len(p.Results))
	}
	failed := map[string]string{}
	for _, s := range p.Peers {
		if !s.OK {
			failed[s.URL] = s.Error
		}
	}
	for _, ip := range []string{"127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"} {
		u := fmt.Sprintf("http://%s:%d", ip, port)
		if _, ok := failed[u]; !ok {
			t.Errorf("%s not named as failed: %+v", u, p.Peers)
		}
	}
	if len(failed) != 4 || !strings.Contains(failed[fmt.Sprintf("http://127.0.0.6:%d", port)], "timeout") ||
		!strings.Contains(failed[fmt.Sprintf("http://127.0.0.8:%d", port)], "401") || !strings.Contains(failed[fmt.Sprintf("http://127.0.0.7:%d", port)], "500") {
		t.Errorf("failures: %v", failed)
	}
	code, _, errOut = evRun(t, "", "events", "list", "--server", "http://"+asker.admin, "--token-file", tokenFile, "--limit", "3")
	if code != 0 || strings.Count(errOut, "warning: partial answer") != 4 || !strings.Contains(errOut, fmt.Sprintf("http://127.0.0.6:%d", port)) {
		t.Fatalf("CLI on a partial answer: exit %d, stderr:\n%s", code, errOut)
	}
}

type clusterAnswer struct {
	Results []struct {
		ID   string `json:"id"`
		Time string `json:"eventTime"`
	}
	NextCursor *string `json:"next_cursor"`
	Partial    bool
	Peers      []struct {
		URL, Error string
		OK         bool
	}
}

func clusterGet(t *testing.T, u string, header []string) clusterAnswer {
	t.Helper()
	code, _, body := sidecartest.Do(t, "GET", u, "", header...)
	var a clusterAnswer
	if code != 200 || json.Unmarshal([]byte(body), &a) != nil {
		t.Fatalf("GET %s: %d %.300s", u, code, body)
	}
	return a
}

// freePortOn finds a port free on every one of the addresses.
func freePortOn(t *testing.T, ips ...string) int {
	for range 50 {
		l, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, ip := range ips[1:] {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return 0
}

func listenOn(t *testing.T, ip string, port int) net.Listener {
	l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
	if err != nil {
		t.Fatal(err)
	}
	return l
}
