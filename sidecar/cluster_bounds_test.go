package sidecar_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/sidecar"
)

// rogue is a peer that is not a trailcar: it answers every ask with what
// page writes, and counts the asks.
type rogue struct {
	*httptest.Server
	asks atomic.Int64
	seq  atomic.Int64
	base time.Time
}

func newRogue(t *testing.T, tlsServer bool, page func(r *rogue, w http.ResponseWriter, req *http.Request)) *rogue {
	ro := &rogue{base: time.Now().Add(time.Hour).UTC()}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ro.asks.Add(1)
		page(ro, w, req)
	})
	if tlsServer {
		ro.Server = httptest.NewTLSServer(h)
	} else {
		ro.Server = httptest.NewServer(h)
	}
	t.Cleanup(ro.Close)
	return ro
}

// line is one event of size bytes (padded), newer than anything the pods
// hold and older than the rogue's lines before it, with its cursor.
func (ro *rogue) line(size int) []byte {
	n := ro.seq.Add(1)
	at := ro.base.Add(-time.Duration(n) * time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
	id := fmt.Sprintf("%032x", n)
	cursor := store.Cursor{Time: at, ID: id, N: 1}.String() // as a trailcar's, so that the next page's cursor parses
	l := fmt.Appendf(nil, "%s\t{\"id\":\"%s\",\"eventTime\":\"%s\",\"type\":\"http\",\"host\":\"rogue\",\"pad\":\"", cursor, id, at)
	l = append(l, strings.Repeat("x", max(size-len(l)-3, 0))...)
	return append(l, "\"}\n"...)
}

// page writes a page of n lines of size bytes, with more: true.
func (ro *rogue) page(w http.ResponseWriter, n, size int) {
	body := []byte(`{"host":"rogue","more":true}` + "\n")
	for range n {
		body = append(body, ro.line(size)...)
	}
	w.Header().Set("Content-Type", "application/x-trailcar-page")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// boundedPod is one sidecar with a few events of its own and the rogues
// as peers.
func boundedPod(t *testing.T, timeout time.Duration, peers []string, opts ...func(*sidecar.Config)) *sidecartest.Sidecar {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.Config(t, up.URL)
	cfg.Cluster.Peers = peers
	cfg.Cluster.Timeout = timeout
	for _, o := range opts {
		o(&cfg)
	}
	s := sidecartest.Start(t, cfg)
	for i := range 3 {
		sidecartest.Do(t, "POST", s.ProxyURL()+fmt.Sprintf("/api/v3/widgets/%d", i), "")
	}
	s.WaitLine("the events", func(l sidecartest.Line) bool { return l.Req.Path == "/api/v3/widgets/2" })
	return s
}

func peerErrors(p clusterPage) map[string]string {
	out := map[string]string{}
	for _, s := range p.Peers {
		if !s.OK {
			out[s.URL] = s.Error
		}
	}
	return out
}

func getPage(t *testing.T, u string) (clusterPage, int, time.Duration) {
	t.Helper()
	start := time.Now()
	code, _, body := sidecartest.Do(t, "GET", u, "")
	took := time.Since(start)
	var p clusterPage
	if code == 200 && json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("GET %s: %.300s", u, body)
	}
	return p, len(body), took
}

// TestClusterSlowPeerDeadline: a peer that answers each ask with one
// event just under the timeout is cut off at the query's one deadline:
// a limit=12 page takes the timeout (not 12 of them), is partial, and
// names the peer; its cursor entry stays where it stopped.
func TestClusterSlowPeerDeadline(t *testing.T) {
	const timeout = time.Second
	slow := newRogue(t, false, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(timeout - 100*time.Millisecond):
		case <-r.Context().Done():
			return
		}
		ro.page(w, 1, 300)
	})
	s := boundedPod(t, timeout, []string{slow.URL})
	p, _, took := getPage(t, s.AdminURL()+"/api/v3/events?method=POST&limit=12")
	t.Logf("limit=12 with a peer answering one event per %v: %v, %d results, %d asks", timeout-100*time.Millisecond, took, len(p.Results), slow.asks.Load())
	if took > timeout+500*time.Millisecond {
		t.Errorf("took %v; want at most the timeout %v + 500ms", took, timeout)
	}
	if errs := peerErrors(p); !p.Partial || errs[slow.URL] != "timeout" {
		t.Fatalf("partial %v, peers %+v: want partial, the slow peer a timeout", p.Partial, p.Peers)
	}
	if n := slow.asks.Load(); n != 2 {
		t.Errorf("asked the slow peer %d times; want 2 (the second cut off)", n)
	}
	local := 0
	for _, r := range p.Results {
		if r.Host == "test-host" {
			local++
		}
	}
	if local != 3 || p.NextCursor == nil {
		t.Errorf("%d of this pod's 3 events, next_cursor %v", local, p.NextCursor)
	}
}

// TestClusterBigAnswersPeer: a peer that answers every ask with just
// under the 10 MiB per-answer bound. Of events: the page ends at its 8
// MiB, with a cursor, after one or two asks (not hundreds). Padded
// around the events (a header or cursor no trailcar sends): refused at
// once, partial. Two such peers: one is cut off by the 16 MiB budget.
func TestClusterBigAnswersPeer(t *testing.T) {
	const answer = 10<<20 - 64<<10
	events := newRogue(t, false, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
		ro.page(w, 10, answer/10)
	})
	padded := newRogue(t, false, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"host":"rogue","more":true,"pad":"` + strings.Repeat("x", answer) + `"}` + "\n"))
		w.Write(ro.line(300))
	})
	t.Run("events", func(t *testing.T) {
		s := boundedPod(t, 2*time.Second, []string{events.URL})
		for page, cursor := 0, ""; page < 3; page++ {
			before := events.asks.Load()
			p, size, took := getPage(t, s.AdminURL()+"/api/v3/events?method=POST&limit=1000"+cursor)
			asks := events.asks.Load() - before
			t.Logf("page %d: %d results, %d bytes, %d asks, %v", page, len(p.Results), size, asks, took)
			if size > 8<<20+answer/10+64<<10 || asks > 2 || p.NextCursor == nil || len(p.Results) < 5 {
				t.Fatalf("page %d: %d bytes, %d asks of the peer, next_cursor %v", page, size, asks, p.NextCursor)
			}
			cursor = "&cursor=" + *p.NextCursor
		}
	})
	t.Run("padded", func(t *testing.T) {
		s := boundedPod(t, 2*time.Second, []string{padded.URL})
		p, _, took := getPage(t, s.AdminURL()+"/api/v3/events?method=POST&limit=1000")
		if errs := peerErrors(p); !p.Partial || !strings.Contains(errs[padded.URL], "not a trailcar page") || len(p.Results) != 3 || took > 2*time.Second {
			t.Fatalf("partial %v, %d results, in %v, peers %+v", p.Partial, len(p.Results), took, p.Peers)
		}
	})
	t.Run("two past the budget", func(t *testing.T) {
		other := newRogue(t, false, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
			ro.page(w, 10, answer/10)
		})
		s := boundedPod(t, 2*time.Second, []string{events.URL, other.URL})
		p, size, _ := getPage(t, s.AdminURL()+"/api/v3/events?limit=1000")
		errs := peerErrors(p)
		if !p.Partial || len(errs) != 1 || size > 8<<20+answer/10+64<<10 {
			t.Fatalf("partial %v, %d bytes, peers %+v: want one peer cut off", p.Partial, size, p.Peers)
		}
		for _, e := range errs {
			if !strings.Contains(e, "byte budget") {
				t.Errorf("error %q: want the budget named", e)
			}
		}
	})
}

// TestMaxQueries: past admin.max_queries event answers being built at
// once (local or cluster), a request is 429 with Retry-After: 1 and
// counted; the slot is free again when an answer is done. A peer's 429
// makes a cluster answer partial with error "busy".
func TestMaxQueries(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	hang := newRogue(t, false, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, `{"host":"rogue","more":false}`+"\n")
	})
	busy := newRogue(t, false, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":"too many event queries at once (admin.max_queries: 8)"}`, http.StatusTooManyRequests)
	})
	s := boundedPod(t, 5*time.Second, []string{hang.URL}, func(c *sidecar.Config) { c.Admin.MaxQueries = 2 })
	if got := sidecartest.Counters(t, s.Reg, "trailcar_admin_refused_total"); got["reason=queries"] != 0 || len(got) != 4 {
		t.Fatalf("before any refusal: %v", got)
	}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events", "")
		}()
	}
	<-arrived
	<-arrived // both cluster answers hold their slot, waiting for the peer
	for _, u := range []string{"/api/v3/events?scope=local", "/api/v3/events/0123456789abcdef0123456789abcdef"} {
		code, h, body := sidecartest.Do(t, "GET", s.AdminURL()+u, "")
		if code != 429 || h.Get("Retry-After") != "1" || !strings.Contains(body, "admin.max_queries: 2") {
			t.Errorf("GET %s with both slots taken: %d %v %s", u, code, h.Get("Retry-After"), body)
		}
	}
	code, _, _ := sidecartest.Do(t, "DELETE", s.AdminURL()+"/api/v3/events?type=nothing&scope=local", "")
	if code != 429 {
		t.Errorf("DELETE with both slots taken: %d", code)
	}
	close(release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("the two answers that held the slots: %v", codes)
	}
	if got := sidecartest.Counters(t, s.Reg, "trailcar_admin_refused_total"); got["reason=queries"] != 3 {
		t.Errorf("refusals: %v, want 3 for queries", got)
	}
	if code, _, _ := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events?scope=local", ""); code != 200 {
		t.Errorf("after the answers: %d", code)
	}

	t.Run("a busy peer", func(t *testing.T) {
		s := boundedPod(t, time.Second, []string{busy.URL})
		p, _, _ := getPage(t, s.AdminURL()+"/api/v3/events?method=POST")
		if errs := peerErrors(p); !p.Partial || errs[busy.URL] != "busy" || len(p.Results) != 3 {
			t.Fatalf("partial %v, %d results, peers %+v", p.Partial, len(p.Results), p.Peers)
		}
	})
}

// TestClusterHTTPSPeers: https:// and dns+https:// peers are verified
// with cluster.ca_file; a dns+https peer, asked by IP, must show a
// certificate naming NAME (an IP on the certificate is not enough), and
// without the CA nothing is sent past the handshake.
func TestClusterHTTPSPeers(t *testing.T) {
	var tokens atomic.Int64
	peer := newRogue(t, true, func(ro *rogue, w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && r.Header.Get("Authorization") == "Bearer tok" {
			tokens.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-trailcar-page")
		io.WriteString(w, `{"host":"rogue","more":false}`+"\n")
		w.Write(ro.line(300))
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	// httptest's certificate is its own CA; it names example.com and
	// 127.0.0.1.
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Certificate().Raw}), 0o600)
	port := peer.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name, peer, dnsName, caFile string
		wantErr                     string // "" for ok
	}{
		{"https by IP", fmt.Sprintf("https://127.0.0.1:%d", port), "", caFile, ""},
		{"dns+https, the certificate names NAME", fmt.Sprintf("dns+https://example.com:%d", port), "example.com", caFile, ""},
		{"dns+https, the certificate does not name NAME", fmt.Sprintf("dns+https://other.test:%d", port), "other.test", caFile, "certificate is valid for"},
		{"https without the CA", fmt.Sprintf("https://127.0.0.1:%d", port), "", "", "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tokens.Load()
			var opts []func(*sidecar.Options)
			if tt.dnsName != "" {
				d := startDNS(t, tt.dnsName)
				d.set("127.0.0.1")
				opts = append(opts, func(o *sidecar.Options) { o.Resolver = d.resolver() })
			}
			up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			cfg := sidecartest.Config(t, up.URL)
			cfg.Cluster.Peers = []string{tt.peer}
			cfg.Cluster.CAFile = tt.caFile
			s := sidecartest.Start(t, cfg, opts...)
			code, _, body := sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events?host=rogue", "", "Authorization", "Bearer tok")
			var p clusterPage
			if code != 200 || json.Unmarshal([]byte(body), &p) != nil || len(p.Peers) != 1 {
				t.Fatalf("%d %.300s", code, body)
			}
			got := p.Peers[0]
			if tt.wantErr == "" {
				if !got.OK || p.Partial || len(p.Results) != 1 || tokens.Load() != before+1 {
					t.Fatalf("peer %+v, %d results, token seen %d times", got, len(p.Results), tokens.Load()-before)
				}
				return
			}
			if got.OK || !strings.Contains(got.Error, tt.wantErr) || tokens.Load() != before {
				t.Fatalf("peer %+v: want %q, and no request past the handshake", got, tt.wantErr)
			}
		})
	}
}
