package browsertest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// cluster is two pods that are each other's peers, plus a peer that is
// down, each pod with its own signed trail.
type cluster struct {
	pods []*sidecartest.Sidecar
	down string // the dead peer's address
	// hostilePath is the path of a request on pod-0 whose event holds a
	// comma, a quote and a newline (the CSV export must quote it).
	hostilePath string
	// seeded: pod-0's log dir held this many events of an earlier run,
	// all of them 12 to 70 minutes old, when it started.
	seeded int
}

const seededHost = "console-7d9f-abcde" // the host of history's events

// startCluster starts the pods and sends each its traffic: on pod i,
// POST /api/v3/widgets/on-pod-i (201), DELETE /api/v3/widgets/gone-i (500)
// and PUT /api/v3/gadgets/g-i (200); on pod-0 also the hostile path.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(r.Header.Get("X-Test-Status"))
		if err != nil {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}))
	addrs := []string{sidecartest.FreeAddr(t), sidecartest.FreeAddr(t)}
	c := &cluster{down: sidecartest.DeadAddr(t), seeded: 1200, hostilePath: "/api/v3/widgets/a,b\"c\nd"}
	peers := []string{"http://" + addrs[0], "http://" + addrs[1], "http://" + c.down}
	for i, a := range addrs {
		cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), testToken)
		cfg.Host, cfg.Admin.Listen = fmt.Sprintf("pod-%d", i), a
		// Generous: under -race on a busy machine a peer's verify of its
		// files can take a while, and a slow peer would be "unreachable".
		cfg.Cluster.Peers, cfg.Cluster.Timeout = peers, 5*time.Second
		cfg.Integrity.Enabled, cfg.Integrity.Interval, cfg.Integrity.KeyFile = true, time.Second, writeKey(t)
		if i == 0 {
			writeHistory(t, cfg.ActivityTracker.Dir, history(t, c.seeded, time.Now().Add(-10*time.Minute)))
		}
		c.pods = append(c.pods, sidecartest.Start(t, cfg))
		proxy := c.pods[i].ProxyURL()
		send := func(method, path string, status int) {
			sidecartest.Do(t, method, proxy+path, "", "X-Test-Status", strconv.Itoa(status))
		}
		send("POST", fmt.Sprintf("/api/v3/widgets/on-pod-%d", i), 201)
		send("DELETE", fmt.Sprintf("/api/v3/widgets/gone-%d", i), 500)
		send("PUT", fmt.Sprintf("/api/v3/gadgets/g-%d", i), 200)
		if i == 0 {
			send("POST", "/api/v3/widgets/a,b%22c%0Ad", 201)
		}
		want := fmt.Sprintf("/api/v3/gadgets/g-%d", i)
		c.pods[i].WaitLine("its last event", func(l sidecartest.Line) bool { return l.Req.Path == want })
	}
	return c
}

// writeKey writes a new Ed25519 key for integrity.key_file.
func writeKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, _, err := integrity.EncodeKeys(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.key")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// open opens the viewer at path (with its query) of the pod's admin port
// in a new tab, and gives the token.
func (c *cluster) open(t *testing.T, browser context.Context, pod int, path string) *tab {
	t.Helper()
	tb := newTab(t, browser)
	tb.do(chromedp.Navigate(c.pods[pod].AdminURL() + path))
	tb.do(chromedp.WaitVisible(chromedp.ID("token-input")))
	tb.do(chromedp.SendKeys(chromedp.ID("token-input"), testToken), chromedp.KeyEvent(kb.Enter))
	return tb
}

// TestViewerCluster: the viewer on a pod with two peers (one of them
// down), item by item: rows of every pod with their host and the peers'
// states, the grid's columns, times as typed, the filters in the URL, the
// trail reads toggle, the range and the chart's zoom, the export, and the
// integrity badges (last: it tampers with a file).
func TestViewerCluster(t *testing.T) {
	browser := newBrowser(t)
	c := startCluster(t)
	t.Run("rows of both pods, peer strip, host filter", func(t *testing.T) { testClusterRows(t, browser, c) })
	t.Run("columns line up", func(t *testing.T) { testClusterLayout(t, browser, c) })
	t.Run("times as typed", func(t *testing.T) { testTimesAsTyped(t, browser, c) })
	t.Run("action, method, resource and outcome filters", func(t *testing.T) { testFilters(t, browser, c) })
	t.Run("trail reads hidden by default", func(t *testing.T) { testTrailReads(t, browser, c) })
	t.Run("range presets and chart zoom", func(t *testing.T) { testZoom(t, browser, c) })
	t.Run("export CSV and JSON Lines", func(t *testing.T) { testExport(t, browser, c) })
	t.Run("integrity badge per pod", func(t *testing.T) { testIntegrity(t, browser, c) })
}

func testClusterRows(t *testing.T, browser context.Context, c *cluster) {
	tb := c.open(t, browser, 0, "/")
	tb.waitFor("both pods' rows, each with its host", visibleRowsJS+`.some(r => r.cells[5].textContent === '/api/v3/widgets/on-pod-1' && r.cells[8].textContent === 'pod-1') && `+
		visibleRowsJS+`.some(r => r.cells[5].textContent === '/api/v3/widgets/on-pod-0' && r.cells[8].textContent === 'pod-0')`)
	tb.waitFor("the peer strip: pod-1 up, the dead peer down", `(() => {
		const s = document.getElementById('peers');
		const chips = [...s.querySelectorAll('li')];
		return !s.hidden && chips.some(c => c.dataset.state === 'up' && c.textContent.startsWith('pod-1')) &&
			chips.some(c => c.dataset.state === 'down' && c.textContent.includes('`+c.down+`'));
	})()`)

	// Filter by host: only pod-1's rows.
	tb.do(chromedp.SendKeys(chromedp.ID("f-host"), "pod-1"), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("only pod-1's rows", visibleRowsJS+`.length > 0 && `+visibleRowsJS+`.every(r => r.cells[8].textContent === 'pod-1')`)
	tb.noExceptions()
}

func testClusterLayout(t *testing.T, browser context.Context, c *cluster) {
	tb := c.open(t, browser, 0, "/")
	tb.waitFor("both pods' rows and the seeded ones", pathPredicate("/api/v3/widgets/on-pod-1")+` && `+
		visibleRowsJS+`.some(r => r.cells[8].textContent === `+jsString(seededHost)+`)`)
	tb.checkColumns()
	if dir := os.Getenv("TRAILCAR_SCREENSHOTS"); dir != "" {
		tb.waitFor("the integrity badges", `document.querySelectorAll('#integrity button[data-state="intact"]').length === 2`)
		tb.screenshot(dir, "viewer-cluster.png")
	}
	tb.noExceptions()
}
