package logs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// podServer serves the admin port's logs routes as the sidecar mounts
// them, for the pod host whose files are in dir, with peers (none: c is
// nil), whose follow streams end when done is closed. Every answer says
// its host in X-Trailcar-Host, as the admin port's do; a token, when set,
// is required.
func podServer(t *testing.T, ln net.Listener, host, dir, token string, c *cluster.Cluster, done <-chan struct{}) *httptest.Server {
	t.Helper()
	h := &logs.Handler{Store: trail(dir, liveName), Poll: 10 * time.Millisecond, Done: done}
	pods := logs.NewPods(h, c, host)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/logs", pods.ServeIndex)
	mux.HandleFunc("GET /api/v3/logs/{name}", h.ServeFile)
	mux.HandleFunc("GET /api/v3/logs/{host}/{name}", pods.ServeFile)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Trailcar-Host", host)
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// frontOf is pod-a, whose peer is the server at peerURL.
func frontOf(t *testing.T, peerURL string, timeout time.Duration) *httptest.Server {
	return frontDone(t, peerURL, timeout, nil)
}

// frontDone is frontOf, shut down when done is closed.
func frontDone(t *testing.T, peerURL string, timeout time.Duration, done <-chan struct{}) *httptest.Server {
	t.Helper()
	c, err := cluster.New(cluster.Options{Peers: []string{peerURL}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	dir := mkdir(t)
	writeFile(t, filepath.Join(dir, liveName), "a's line\n", time.Time{})
	return podServer(t, nil, "pod-a", dir, "tok", c, done)
}

// TestPodsReadThroughPeer: pod-a answers for pod-b: the cluster index
// lists both pods' files, and pod-b's file is read through pod-a with
// tail, Range, a conditional request and follow, the caller's token going
// with it.
func TestPodsReadThroughPeer(t *testing.T) {
	dirB := mkdir(t)
	live := filepath.Join(dirB, liveName)
	writeFile(t, live, numbered(1, 50), time.Time{})
	peer := podServer(t, nil, "pod-b", dirB, "tok", nil, nil)
	front := frontOf(t, peer.URL, 2*time.Second)
	auth := []string{"Authorization", "Bearer tok"}

	res, body := get(t, front.URL+"/api/v3/logs?scope=cluster", append(auth, "Accept", "application/json")...)
	var idx struct {
		Files   []struct{ Name, Host string }
		Partial bool
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &idx) != nil || idx.Partial || len(idx.Files) != 2 ||
		idx.Files[0].Name != "pod-a/audit.log" || idx.Files[1].Name != "pod-b/audit.log" {
		t.Fatalf("cluster index: %d %s", res.StatusCode, body)
	}
	if res, body := get(t, front.URL+"/api/v3/logs?scope=cluster", auth...); res.StatusCode != 200 || !strings.Contains(body, `href="logs/pod-b/audit.log"`) {
		t.Fatalf("cluster index page: %d %s", res.StatusCode, body)
	}

	b := front.URL + "/api/v3/logs/pod-b/audit.log"
	tests := []struct {
		name   string
		url    string
		header []string
		status int
		body   string
	}{
		{"tail", b + "?tail=2", auth, 200, numbered(49, 50)},
		{"range", b, append(auth, "Range", "bytes=8-15"), 206, numbered(1, 5)[8:16]},
		{"whole", b, auth, 200, numbered(1, 50)},
		{"not modified", b, append(auth, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), 304, ""},
		{"no token", b, nil, 401, "missing or wrong bearer token\n"},
		{"no such file", b[:len(b)-len("audit.log")] + "nope.log", auth, 404, `{"error":"no such log file"}` + "\n"},
		{"no such pod", front.URL + "/api/v3/logs/pod-z/audit.log", auth, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, tt.url, tt.header...)
			if res.StatusCode != tt.status || (tt.body != "" && body != tt.body) {
				t.Fatalf("%d %q, want %d %q", res.StatusCode, body, tt.status, tt.body)
			}
			if got := res.Header.Values("X-Trailcar-Host"); len(got) != 1 || got[0] != "pod-a" {
				t.Errorf("X-Trailcar-Host %q: pod-a answers", got)
			}
		})
	}

	s := follow(t, &http.Client{Transport: bearer("tok")}, b+"?tail=1&follow=true")
	s.expect(t, "line 50")
	appendFile(t, live, "line 51\nline 52\n")
	s.expect(t, "line 51", "line 52")
}

// TestPodsFollowEndsAtShutdown: a follow stream relayed from a peer ends
// when pod-a shuts down, though the peer's goes on.
func TestPodsFollowEndsAtShutdown(t *testing.T) {
	dirB := mkdir(t)
	live := filepath.Join(dirB, liveName)
	writeFile(t, live, numbered(1, 3), time.Time{})
	peer := podServer(t, nil, "pod-b", dirB, "tok", nil, nil)
	done := make(chan struct{})
	front := frontDone(t, peer.URL, 2*time.Second, done)
	s := follow(t, &http.Client{Transport: bearer("tok")}, front.URL+"/api/v3/logs/pod-b/audit.log?tail=1&follow=true")
	s.expect(t, "line 3")
	close(done)
	s.waitEnd(t)
}

// bearer sends every request with the token.
type bearer string

func (tok bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(tok))
	return http.DefaultTransport.RoundTrip(r)
}

// TestPodsIgnoreProxyEnv: with HTTP_PROXY pointing nowhere, a peer's file
// is still read through pod-a: peers are asked directly. Go reads the
// proxy environment once per process, so the test runs again in a child
// process that has it from the start; the peer listens on a non-loopback
// address, since Go never proxies loopback ones.
func TestPodsIgnoreProxyEnv(t *testing.T) {
	if os.Getenv("TRAILCAR_PROXY_TEST_CHILD") == "" {
		dead, _ := net.Listen("tcp", "127.0.0.1:0")
		dead.Close()
		proxy := "http://" + dead.Addr().String()
		cmd := exec.Command(os.Args[0], "-test.run=^TestPodsIgnoreProxyEnv$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "TRAILCAR_PROXY_TEST_CHILD=1", "NO_PROXY=", "no_proxy=",
			"HTTP_PROXY="+proxy, "http_proxy="+proxy, "HTTPS_PROXY="+proxy, "https_proxy="+proxy)
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil:
			t.Fatalf("child: %v\n%s", err, out)
		case bytes.Contains(out, []byte("--- SKIP: TestPodsIgnoreProxyEnv")):
			t.Skipf("child skipped:\n%s", out)
		case !bytes.Contains(out, []byte("--- PASS: TestPodsIgnoreProxyEnv")):
			t.Fatalf("child did not pass:\n%s", out)
		}
		return
	}
	ip := nonLoopbackIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	dirB := mkdir(t)
	writeFile(t, filepath.Join(dirB, liveName), numbered(1, 9), time.Time{})
	peer := podServer(t, ln, "pod-b", dirB, "tok", nil, nil)
	// A client that honoured the environment would go to the dead proxy.
	probe, _ := http.NewRequest(http.MethodGet, peer.URL, nil)
	if u, err := http.ProxyFromEnvironment(probe); u == nil {
		t.Fatalf("no proxy from the environment for %s (%v)", peer.URL, err)
	}
	front := frontOf(t, peer.URL, 2*time.Second)
	auth := []string{"Authorization", "Bearer tok"}
	if res, body := get(t, front.URL+"/api/v3/logs?scope=cluster", append(auth, "Accept", "application/json")...); res.StatusCode != 200 || !strings.Contains(body, `"name":"pod-b/audit.log"`) {
		t.Fatalf("cluster index through pod-a: %d %s", res.StatusCode, body)
	}
	if res, body := get(t, front.URL+"/api/v3/logs/pod-b/audit.log?tail=3", auth...); res.StatusCode != 200 || body != numbered(7, 9) {
		t.Fatalf("tail through pod-a: %d %q", res.StatusCode, body)
	}
	if res, body := get(t, front.URL+"/api/v3/logs/pod-b/audit.log", append(auth, "Range", "bytes=0-6")...); res.StatusCode != 206 || body != "line 1\n" {
		t.Fatalf("range through pod-a: %d %q", res.StatusCode, body)
	}
}

// nonLoopbackIP is an address of this machine's that is not loopback, or
// skips the test.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to listen on")
	return ""
}

// fakePeer answers the index as pod-b and file with answer.
func fakePeer(t *testing.T, file http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Trailcar-Host", "pod-b")
		if r.URL.Path == "/api/v3/logs" {
			w.Write([]byte(`{"files":[{"name":"audit.log","size":1,"modified":"2026-01-01T00:00:00Z"}]}`))
			return
		}
		file(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPodsRedirectNotFollowed: a peer that answers its file with a
// redirect is 502; neither pod-a nor its caller is sent where it points.
func TestPodsRedirectNotFollowed(t *testing.T) {
	var stolen atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	defer elsewhere.Close()
	peer := fakePeer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/api/v3/logs/audit.log", http.StatusFound)
	})
	front := frontOf(t, peer.URL, 2*time.Second)
	res, body := get(t, front.URL+"/api/v3/logs/pod-b/audit.log", "Authorization", "Bearer tok")
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(body, "redirect is not followed") || res.Header.Get("Location") != "" {
		t.Fatalf("%d %v %s", res.StatusCode, res.Header, body)
	}
	if n := stolen.Load(); n != 0 {
		t.Fatalf("the redirect's target was asked %d times", n)
	}
}

// TestPodsPeerTimeout: a peer that answers its index but never its file's
// head is 504 after the cluster's timeout, not a hang.
func TestPodsPeerTimeout(t *testing.T) {
	peer := fakePeer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	front := frontOf(t, peer.URL, 200*time.Millisecond)
	client := &http.Client{Timeout: 10 * time.Second} // a hang guard: without the bound, the relay waits as long as its caller
	req, _ := http.NewRequest(http.MethodGet, front.URL+"/api/v3/logs/pod-b/audit.log?follow=true", nil)
	req.Header.Set("Authorization", "Bearer tok")
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusGatewayTimeout || string(body) != `{"error":"pod pod-b: timeout"}`+"\n" {
		t.Fatalf("%d after %v: %s", res.StatusCode, time.Since(start), body)
	}
}

// get is sidecartest.Do for a GET, with the answer's status and header as
// an *http.Response.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	status, h, body := sidecartest.Do(t, http.MethodGet, url, "", header...)
	return &http.Response{StatusCode: status, Header: h}, body
}
