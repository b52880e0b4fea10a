package browsertest_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestViewerCluster: a pod with two peers (one of them down) shows every
// pod's rows with their host, filters by host, and shows each peer's
// state in the strip.
func TestViewerCluster(t *testing.T) {
	browser := newBrowser(t)
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	addrs := []string{sidecartest.FreeAddr(t), sidecartest.FreeAddr(t)}
	down := sidecartest.DeadAddr(t)
	peers := []string{"http://" + addrs[0], "http://" + addrs[1], "http://" + down}
	var pods []*sidecartest.Sidecar
	for i, a := range addrs {
		cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), testToken)
		cfg.Host, cfg.Admin.Listen = fmt.Sprintf("pod-%d", i), a
		cfg.Cluster.Peers, cfg.Cluster.Timeout = peers, 500*time.Millisecond
		pods = append(pods, sidecartest.Start(t, cfg))
		sidecartest.Do(t, "POST", pods[i].ProxyURL()+fmt.Sprintf("/api/v3/widgets/on-pod-%d", i), "")
		pods[i].WaitLine("its event", func(l sidecartest.Line) bool { return l.Type == "http" })
	}

	tb := newTab(t, browser)
	tb.do(chromedp.Navigate(pods[0].AdminURL() + "/"))
	tb.do(chromedp.WaitVisible(chromedp.ID("token-input")))
	tb.do(chromedp.SendKeys(chromedp.ID("token-input"), testToken), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("both pods' rows, each with its host", visibleRowsJS+`.some(r => r.cells[5].textContent === '/api/v3/widgets/on-pod-1' && r.cells[8].textContent === 'pod-1') && `+
		visibleRowsJS+`.some(r => r.cells[5].textContent === '/api/v3/widgets/on-pod-0' && r.cells[8].textContent === 'pod-0')`)
	tb.waitFor("the peer strip: pod-1 up, the dead peer down", `(() => {
		const s = document.getElementById('peers');
		const chips = [...s.querySelectorAll('li')];
		return !s.hidden && chips.some(c => c.dataset.state === 'up' && c.textContent.startsWith('pod-1')) &&
			chips.some(c => c.dataset.state === 'down' && c.textContent.includes('`+down+`'));
	})()`)

	// Filter by host: only pod-1's rows.
	tb.do(chromedp.SendKeys(chromedp.ID("f-host"), "pod-1"), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("only pod-1's rows", visibleRowsJS+`.length > 0 && `+visibleRowsJS+`.every(r => r.cells[8].textContent === 'pod-1')`)
	tb.noExceptions()
}
