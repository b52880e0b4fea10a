package sidecar_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

type clusterPage struct {
	Results []struct {
		ID   string    `json:"id"`
		Time time.Time `json:"eventTime"`
		Host string    `json:"host"`
		Req  struct{ Path string }
	}
	NextCursor *string `json:"next_cursor"`
	Partial    bool
	Peers      []struct {
		URL, Host, Error string
		OK               bool
	}
}

// startCluster starts n sidecars that list each other (and themselves)
// as peers, in front of one app.
func startCluster(t *testing.T, n int, token string) []*sidecartest.Sidecar {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	addrs := make([]string, n)
	var peers []string
	for i := range addrs {
		addrs[i] = sidecartest.FreeAddr(t)
		peers = append(peers, "http://"+addrs[i])
	}
	var out []*sidecartest.Sidecar
	for i := range n {
		cfg := sidecartest.Config(t, up.URL)
		cfg.Host = fmt.Sprintf("pod-%d", i)
		cfg.Admin.Listen = addrs[i]
		cfg.Cluster.Peers = peers
		cfg.Cluster.Timeout = time.Second
		if token != "" {
			cfg = sidecartest.WithToken(t, cfg, token)
		}
		out = append(out, sidecartest.Start(t, cfg))
	}
	return out
}

// TestClusterPagesEveryEventOnce: three pods with their own events, paged
// through one of them 7 at a time while every pod keeps writing: newest
// first, each event exactly once, every pod's events there.
func TestClusterPagesEveryEventOnce(t *testing.T) {
	pods := startCluster(t, 3, "tok")
	auth := []string{"Authorization", "Bearer tok"}
	for i, p := range pods {
		for j := range 20 + 10*i {
			sidecartest.Do(t, "POST", p.ProxyURL()+fmt.Sprintf("/api/v3/widgets/%d-%d", i, j), "")
		}
	}
	for _, p := range pods {
		sidecartest.Eventually(t, "events written", func() bool { return len(sidecartest.OfType(p.Lines(), "http")) >= 20 })
	}
	time.Sleep(50 * time.Millisecond)
	before := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, p := range pods { // writers keep writing newer events meanwhile
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				sidecartest.Do(t, "POST", p.ProxyURL()+fmt.Sprintf("/api/v3/late/%d-%d", i, j), "")
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	var got []string
	var last time.Time
	q := url.Values{"method": {"POST"}, "before": {before.UTC().Format(time.RFC3339Nano)}, "limit": {"7"}}
	for pages := 0; ; pages++ {
		code, _, body := sidecartest.Do(t, "GET", pods[1].AdminURL()+"/api/v3/events?"+q.Encode(), "", auth...)
		var p clusterPage
		if code != 200 || json.Unmarshal([]byte(body), &p) != nil || p.Partial || len(p.Peers) != 2 {
			t.Fatalf("page %d: %d %s", pages, code, body)
		}
		for _, e := range p.Results {
			if !last.IsZero() && e.Time.After(last) {
				t.Fatalf("not newest first: %v after %v", e.Time, last)
			}
			last = e.Time
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
	for _, p := range pods {
		for _, l := range sidecartest.OfType(p.Lines(), "http") {
			if l.Req.Method == "POST" && l.Time.Before(before) {
				want = append(want, l.ID)
			}
		}
	}
	slices.Sort(want)
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if len(want) != 90 || !slices.Equal(sorted, want) {
		t.Fatalf("got %d events (%d distinct ids), want the %d of the three pods", len(got), len(slices.Compact(sorted)), len(want))
	}

	// get from whichever pod has it; scope=local asks one pod.
	id := sidecartest.OfType(pods[2].Lines(), "http")[0].ID
	if code, _, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/events/"+id, "", auth...); code != 200 || !strings.Contains(body, id) {
		t.Fatalf("cluster get: %d %s", code, body)
	}
	if code, _, _ := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/events/"+id+"?scope=local", "", auth...); code != 404 {
		t.Fatalf("local get: %d", code)
	}
	if code, _, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/events?scope=everywhere", "", auth...); code != 400 || !strings.HasPrefix(body, `{"error":"scope`) {
		t.Fatalf("bad scope: %d %s", code, body)
	}
	// delete everywhere: each pod audits its own.
	code, _, body := sidecartest.Do(t, "DELETE", pods[0].AdminURL()+"/api/v3/events?action=console.widgets.create", "", auth...)
	var d struct {
		Deleted, Local int
		Partial        bool
		Peers          []struct{ Deleted int }
	}
	if code != 200 || json.Unmarshal([]byte(body), &d) != nil || d.Deleted != 90 || d.Partial || len(d.Peers) != 2 {
		t.Fatalf("cluster delete: %d %s", code, body)
	}
	for _, p := range pods {
		p.WaitLine("its own delete record", func(l sidecartest.Line) bool { return l.Type == "system.events.deleted" })
	}
}

// TestClusterLogs: the cluster index lists every pod's files as
// {host}/{name}, and a pod's file is read (tail, follow) through any pod.
func TestClusterLogs(t *testing.T) {
	pods := startCluster(t, 3, "tok")
	auth := []string{"Authorization", "Bearer tok", "Accept", "application/json"}
	for i, p := range pods {
		sidecartest.Do(t, "POST", p.ProxyURL()+fmt.Sprintf("/api/v3/widgets/from-%d", i), "")
		p.WaitLine("its event", func(l sidecartest.Line) bool { return l.Type == "http" })
	}
	code, _, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/logs?scope=cluster", "", auth...)
	for i := range pods {
		if code != 200 || !strings.Contains(body, fmt.Sprintf(`"name":"pod-%d/audit.log"`, i)) {
			t.Fatalf("cluster index: %d %s", code, body)
		}
	}
	if code, _, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/logs", "", auth...); code != 200 || strings.Contains(body, "pod-1") {
		t.Fatalf("the default index is this pod's: %d %s", code, body)
	}
	code, _, body = sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/logs/pod-2/audit.log?tail=5", "", auth...)
	if code != 200 || !strings.Contains(body, "/api/v3/widgets/from-2") || strings.Contains(body, "from-0") {
		t.Fatalf("pod-2's file through pod-0: %d %s", code, body)
	}
	whole, err := os.ReadFile(filepath.Join(pods[2].Cfg.ActivityTracker.Dir, "audit.log"))
	if err != nil || len(whole) < 20 {
		t.Fatalf("pod-2's file: %v %q", err, whole)
	}
	code, header, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/logs/pod-2/audit.log", "", "Authorization", "Bearer tok", "Range", "bytes=10-19")
	if code != 206 || body != string(whole[10:20]) || !strings.HasPrefix(header.Get("Content-Range"), "bytes 10-19/") { // the file grows: every read is audited
		t.Fatalf("a range of pod-2's file through pod-0: %d %v %q, want %q", code, header, body, whole[10:20])
	}
	if code, _, _ := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/logs/pod-9/audit.log", "", auth...); code != 404 {
		t.Fatalf("no such pod: %d", code)
	}
	// follow through pod-0: a line written on pod-1 arrives.
	req, _ := http.NewRequest("GET", pods[0].AdminURL()+"/api/v3/logs/pod-1/audit.log?follow=true", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := sidecartest.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("follow: %v %v", err, resp)
	}
	defer resp.Body.Close()
	sidecartest.Do(t, "POST", pods[1].ProxyURL()+"/api/v3/widgets/followed", "")
	buf := make([]byte, 0, 64<<10)
	deadline := time.Now().Add(sidecartest.Wait)
	for !strings.Contains(string(buf), "followed") && time.Now().Before(deadline) {
		tmp := make([]byte, 4096)
		n, err := resp.Body.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			break
		}
	}
	if !strings.Contains(string(buf), "/api/v3/widgets/followed") {
		t.Fatalf("follow through a peer: %q", buf)
	}
}

// TestClusterLogsPeerRedirect: a peer that answers its file with a
// redirect is 502, and where it points is never asked with the token.
func TestClusterLogsPeerRedirect(t *testing.T) {
	var stolen atomic.Int32
	elsewhere := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	peer := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Trailcar-Host", "pod-b")
		if r.URL.Path == "/api/v3/logs" {
			w.Write([]byte(`{"files":[{"name":"audit.log","size":1,"modified":"2026-01-01T00:00:00Z"}]}`))
			return
		}
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok")
	cfg.Cluster.Peers = []string{peer.URL}
	s := sidecartest.Start(t, cfg)
	code, header, body := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/logs/pod-b/audit.log?tail=1", "", "Authorization", "Bearer tok")
	if code != http.StatusBadGateway || !strings.Contains(body, "redirect is not followed") || header.Get("Location") != "" || stolen.Load() != 0 {
		t.Fatalf("%d %v %s (target asked %d times)", code, header, body, stolen.Load())
	}
}

// TestClusterStream: one stream carries every pod's new events, and says
// which peers take part.
func TestClusterStream(t *testing.T) {
	pods := startCluster(t, 3, "")
	resp := sidecartest.Response(t, "GET", pods[0].AdminURL()+"/api/v3/events/stream?type=http", "")
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	want := map[string]bool{"from-0": false, "from-1": false, "from-2": false}
	sawPeers := false
	deadline := time.After(sidecartest.Wait)
	sent := false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.HasPrefix(l, "data: [") && strings.Count(l, `"ok":true`) == 2 {
				sawPeers = true
			}
			for k := range want {
				if strings.Contains(l, "/api/v3/widgets/"+k) {
					want[k] = true
				}
			}
			if sawPeers && !sent {
				sent = true
				for i, p := range pods {
					sidecartest.Do(t, "POST", p.ProxyURL()+fmt.Sprintf("/api/v3/widgets/from-%d", i), "")
				}
			}
		case <-deadline:
			t.Fatalf("peers %v, events %v", sawPeers, want)
		}
		if sawPeers && want["from-0"] && want["from-1"] && want["from-2"] {
			return
		}
	}
}

// TestClusterStreamHangingPeer: a peer that never answers its stream's
// head is reported as a timeout after cluster.timeout, and the stream
// goes on with the others.
func TestClusterStreamHangingPeer(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	hang := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	cfg := sidecartest.Config(t, up.URL)
	cfg.Cluster.Peers = []string{hang.URL}
	cfg.Cluster.Timeout = 200 * time.Millisecond
	s := sidecartest.Start(t, cfg)
	start := time.Now()
	resp := sidecartest.Response(t, "GET", s.AdminURL()+"/api/v3/events/stream?type=http", "")
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "data: [") {
			if !strings.Contains(l, `"error":"timeout"`) || time.Since(start) > 5*time.Second {
				t.Fatalf("after %v: %s", time.Since(start), l)
			}
			break
		}
	}
	sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets/after", "")
	for sc.Scan() {
		if strings.Contains(sc.Text(), "/api/v3/widgets/after") {
			return
		}
	}
	t.Fatalf("stream ended without this pod's event: %v", sc.Err())
}

// TestClusterMetrics: the peers' states and the requests to them are
// counted, at 0 from the start; a pod listing itself is not asked.
func TestClusterMetrics(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	hang := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	self := sidecartest.FreeAddr(t)
	cfg := sidecartest.Config(t, up.URL)
	cfg.Admin.Listen = self
	cfg.Cluster.Peers = []string{"http://" + self, "http://" + sidecartest.DeadAddr(t), hang.URL}
	cfg.Cluster.Timeout = 200 * time.Millisecond
	s := sidecartest.Start(t, cfg)
	if got := sidecartest.Counters(t, s.Reg, "trailcar_cluster_peer_requests_total"); len(got) != 3 || got["result=ok"] != 0 {
		t.Fatalf("before any query: %v", got)
	}
	start := time.Now()
	code, _, body := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events", "")
	if code != 200 || !strings.Contains(body, `"partial":true`) || strings.Contains(body, `"url":"http://`+self) || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("%d in %v: %s", code, time.Since(start), body)
	}
	got := sidecartest.Counters(t, s.Reg, "trailcar_cluster_peer_requests_total")
	if got["result=error"] != 1 || got["result=timeout"] != 1 || got["result=ok"] != 0 {
		t.Fatalf("requests: %v", got)
	}
	peers := sidecartest.Family(t, s.Reg, "trailcar_cluster_peers")
	states := map[string]float64{}
	for _, m := range peers.GetMetric() {
		states[sidecartest.LabelKey(m)] = m.GetGauge().GetValue()
	}
	if states["state=down"] != 2 || states["state=up"] != 0 {
		t.Fatalf("peers: %v", states)
	}
}

// TestClusterBadCursor: a cursor that is not a cluster page's is 400,
// naming the parameter, never a 500.
func TestClusterBadCursor(t *testing.T) {
	pods := startCluster(t, 2, "")
	forged := "c1." + base64.RawURLEncoding.EncodeToString([]byte(`{"p":{"pod-0":"garbage"}}`))
	for _, c := range []string{"nonsense", forged, "c1.!!!"} {
		code, _, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/events?cursor="+url.QueryEscape(c), "")
		if code != 400 || !strings.HasPrefix(body, `{"error":"cursor`) {
			t.Errorf("cursor %q: %d %s", c, code, body)
		}
	}
}

// TestClusterHostilePeer: a peer that answers a huge body, or a body that
// is not a trailcar page, fails on its own: the answer is partial and
// holds this pod's events, nothing torn.
func TestClusterHostilePeer(t *testing.T) {
	huge := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"host":"evil","more":false}` + "\n"))
		line := []byte("c\t{" + strings.Repeat("x", 1<<20) + "\n")
		for range 12 {
			w.Write(line)
		}
	}))
	junk := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>not a page</html>"))
	}))
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg := sidecartest.Config(t, up.URL)
	cfg.Cluster.Peers = []string{huge.URL, junk.URL}
	s := sidecartest.Start(t, cfg)
	sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", "")
	s.WaitLine("the event", func(l sidecartest.Line) bool { return l.Type == "http" })
	code, _, body := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events?type=http", "")
	var p clusterPage
	if code != 200 || json.Unmarshal([]byte(body), &p) != nil || !p.Partial || len(p.Results) != 1 || p.Results[0].Host != "test-host" {
		t.Fatalf("%d %.500s", code, body)
	}
	for _, peer := range p.Peers {
		if peer.OK || peer.Error == "" {
			t.Errorf("%+v: want failed", peer)
		}
	}
}
