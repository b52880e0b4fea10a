package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trailcar/trailcar/internal/cluster"
)

// newCluster is a cluster of the peers at urls with its own client, and
// its request counter.
func newCluster(t *testing.T, timeout time.Duration, urls ...string) (*cluster.Cluster, *prometheus.CounterVec) {
	t.Helper()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"result"})
	c, err := cluster.New(cluster.Options{Peers: urls, Timeout: timeout, PeerRequests: requests})
	if err != nil {
		t.Fatal(err)
	}
	return c, requests
}

func counted(requests *prometheus.CounterVec) string {
	return fmt.Sprintf("ok=%v error=%v timeout=%v", testutil.ToFloat64(requests.WithLabelValues("ok")),
		testutil.ToFloat64(requests.WithLabelValues("error")), testutil.ToFloat64(requests.WithLabelValues("timeout")))
}

// TestOpenPassesStatuses: an answer is returned as the peer gave it, with
// the caller's headers sent; a 304 is not a redirect; a 4xx counts as an
// error.
func TestOpenPassesStatuses(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Query().Get("scope") != "local" {
			http.Error(w, "who?", http.StatusUnauthorized)
			return
		}
		var status int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &status)
		w.WriteHeader(status)
		fmt.Fprint(w, "answer")
	}))
	defer peer.Close()
	c, requests := newCluster(t, time.Second, peer.URL)
	for _, status := range []int{200, 206, 304, 404} {
		resp, err := c.Open(t.Context(), peer.URL, http.MethodGet, fmt.Sprintf("/%d", status), map[string][]string{"scope": {"local"}}, http.Header{"Authorization": {"Bearer tok"}})
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || (status != 304 && string(body) != "answer") {
			t.Errorf("%d: got %d %q", status, resp.StatusCode, body)
		}
	}
	if got := counted(requests); got != "ok=3 error=1 timeout=0" {
		t.Errorf("counted %s", got)
	}
}

// TestOpenRefusesRedirects: a redirect is an error, and where it points
// is never asked (it would get the caller's token).
func TestOpenRefusesRedirects(t *testing.T) {
	var stolen atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	defer elsewhere.Close()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &status)
		http.Redirect(w, r, elsewhere.URL+"/stolen", status)
	}))
	defer peer.Close()
	c, requests := newCluster(t, time.Second, peer.URL)
	for _, status := range []int{301, 302, 303, 307, 308} {
		resp, err := c.Open(t.Context(), peer.URL, http.MethodGet, fmt.Sprintf("/%d", status), nil, http.Header{"Authorization": {"Bearer tok"}})
		if err == nil || !strings.Contains(err.Error(), "redirect is not followed") {
			t.Errorf("%d: got %v, %v", status, resp, err)
		}
	}
	// Through Transport too, as a ReverseProxy sends it.
	req, _ := http.NewRequest(http.MethodGet, peer.URL+"/302", nil)
	if resp, err := c.Transport().RoundTrip(req); err == nil {
		t.Errorf("transport: got %d", resp.StatusCode)
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the redirect's target was asked %d times", n)
	}
	if got := counted(requests); got != "ok=0 error=6 timeout=0" {
		t.Errorf("counted %s", got)
	}
}

// TestOpenBoundsOnlyTheHead: a peer that sends no head within the timeout
// is ErrTimeout at once; a stream whose head came in time lasts past the
// timeout, until the caller leaves.
func TestOpenBoundsOnlyTheHead(t *testing.T) {
	const timeout = 100 * time.Millisecond
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i := 0; ; i++ {
			select {
			case <-time.After(2 * timeout):
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
		}
	}))
	defer peer.Close()
	c, requests := newCluster(t, timeout, peer.URL)

	start := time.Now()
	_, err := c.Open(t.Context(), peer.URL, http.MethodGet, "/hang", nil, nil)
	if !errors.Is(err, cluster.ErrTimeout) || time.Since(start) > 20*timeout {
		t.Fatalf("hanging peer: %v after %v", err, time.Since(start))
	}

	ctx, cancel := context.WithCancel(t.Context())
	resp, err := c.Open(ctx, peer.URL, http.MethodGet, "/stream", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got string
	for !strings.Contains(got, "line 1\n") { // 4 timeouts after the head
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream cut after %q: %v", got, err)
		}
		got += string(buf[:n])
	}
	cancel()
	if _, err := io.Copy(io.Discard, resp.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("after the caller left: %v", err)
	}
	resp.Body.Close()
	if got := counted(requests); got != "ok=1 error=0 timeout=1" {
		t.Errorf("counted %s", got)
	}
}

// TestQueryBudgets: each query holds at most QueryBytes, all of them
// together AllQueriesBytes; a query's bytes go back when it is closed,
// once, whatever is released after.
func TestQueryBudgets(t *testing.T) {
	c, _ := newCluster(t, time.Second)
	var qs []*cluster.Query
	for range cluster.AllQueriesBytes / cluster.QueryBytes {
		q := c.Begin(t.Context())
		if q.Budget.Take(cluster.QueryBytes + 1) {
			t.Fatal("a query took more than QueryBytes")
		}
		if !q.Budget.Take(cluster.QueryBytes) {
			t.Fatal("a query could not take QueryBytes")
		}
		qs = append(qs, q)
	}
	late := c.Begin(t.Context())
	defer late.Close()
	if late.Budget.Take(1) {
		t.Fatal("took a byte past AllQueriesBytes")
	}
	qs[0].Close()
	qs[0].Budget.Give(cluster.QueryBytes) // released after its query: ignored
	extra := c.Begin(t.Context())
	defer extra.Close()
	if !late.Budget.Take(cluster.QueryBytes) || extra.Budget.Take(1) {
		t.Fatal("a closed query's bytes did not come back exactly once")
	}
	for _, q := range qs[1:] {
		q.Close()
	}
}
