package browsertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trailcar/trailcar/sidecar"
)

// site is a running sidecar as the browser test uses it.
type site struct {
	admin, token string
	// request sends one request through the proxy, which the upstream
	// answers with status: one event.
	request func(t *testing.T, method, path string, status int)
}

func TestViewer(t *testing.T) {
	browser := newBrowser(t)
	t.Run("token, rows, filter, live row, open", func(t *testing.T) { testViewerFlow(t, browser) })
	t.Run("ten thousand rows", func(t *testing.T) { testTenThousandRows(t, browser) })
	t.Run("integrity off", func(t *testing.T) { testIntegrityOff(t, browser) })
}

// testIntegrityOff: on a pod with integrity off, GET /api/v3/integrity is
// 404 and the badge says off (nothing to check), not tampered or
// unreachable; the rows show as ever.
func testIntegrityOff(t *testing.T, browser context.Context) {
	s := startSite(t, nil, func(c *sidecar.Config) { c.Integrity.Enabled = false })
	s.request(t, "POST", "/api/v3/widgets/no-seal", 201)
	tb := newTab(t, browser)
	tb.do(chromedp.Navigate(s.admin + "/"))
	tb.do(chromedp.WaitVisible(chromedp.ID("token-input")))
	tb.do(chromedp.SendKeys(chromedp.ID("token-input"), s.token), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("the row", pathPredicate("/api/v3/widgets/no-seal"))
	tb.waitFor("the integrity badge", `(() => { const b = document.querySelector('#integrity button');
		return !!b && b.dataset.state === 'off'; })()`)
	var others int
	tb.eval(`document.querySelectorAll('#integrity button:not([data-state="off"])').length`, &others)
	if others != 0 {
		t.Errorf("%d badges other than off", others)
	}
	tb.noExceptions()
}

const visibleRowsJS = `[...document.querySelectorAll('#rows tr')].filter(r => !r.hidden)`

func pathPredicate(path string) string {
	return fmt.Sprintf(`%s.some(r => r.cells[5].textContent === %q)`, visibleRowsJS, path)
}

func indexOfPath(rows []row, path string) int {
	return slices.IndexFunc(rows, func(r row) bool { return r.Path == path })
}

func testViewerFlow(t *testing.T, browser context.Context) {
	s := startSite(t, history(t, 300, time.Now()))
	s.request(t, "POST", "/api/v3/widgets", 201)
	s.request(t, "GET", "/api/v3/secret", 403)
	s.request(t, "POST", "/api/v3/boom", 500)
	s.request(t, "PUT", "/api/v3/widgets/w1", 200)

	tb := newTab(t, browser)
	tb.do(chromedp.Navigate(s.admin + "/"))

	// The page asks for the token, says so when one is refused, and keeps
	// the right one for the tab.
	tb.do(chromedp.WaitVisible(chromedp.ID("token-input")))
	tb.do(chromedp.SendKeys(chromedp.ID("token-input"), "wrong-token"), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("the refusal", `!document.getElementById('token-panel').hidden &&
		document.getElementById('token-title').textContent === 'That token was refused'`)
	tb.do(chromedp.SendKeys(chromedp.ID("token-input"), s.token), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("the events of the requests", pathPredicate("/api/v3/widgets/w1"))
	var stored bool
	tb.eval(fmt.Sprintf(`sessionStorage.getItem('trailcar.token') === %q`, s.token), &stored)
	if !stored {
		t.Error("the token is not in sessionStorage")
	}

	// Newest first: the four requests in reverse order, above the history.
	rows := tb.rows()
	order := []int{indexOfPath(rows, "/api/v3/widgets/w1"), indexOfPath(rows, "/api/v3/boom"),
		indexOfPath(rows, "/api/v3/secret"), indexOfPath(rows, "/api/v3/widgets"), indexOfPath(rows, "/ak/api/v1/components/status")}
	if slices.Contains(order, -1) || !slices.IsSorted(order) {
		t.Fatalf("want the requests newest first, then the history; positions %v in %d rows:\n%v", order, len(rows), rows[:min(8, len(rows))])
	}
	if boom := rows[order[1]]; boom.Level != "error" || boom.Status != "500" || boom.Method != "POST" {
		t.Errorf("the 500 row: %+v", boom)
	}
	if len(rows) < 304 {
		t.Errorf("%d rows, want the 300 earlier events too", len(rows))
	}
	var bars struct{ Success, Failure int }
	tb.eval(`({Success: document.querySelectorAll('#chart rect.bar-success').length,
		Failure: document.querySelectorAll('#chart rect.bar-failure').length})`, &bars)
	if bars.Success < 20 || bars.Failure < 2 {
		t.Errorf("chart bars %+v: want the last hour's events drawn", bars)
	}

	// Level error: only the failed requests.
	tb.do(chromedp.SetValue(chromedp.ID("f-level"), "error"), chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)))
	tb.waitFor("only errors", visibleRowsJS+`.length > 0 && `+visibleRowsJS+`.every(r => r.cells[1].textContent === 'error')`)
	tb.waitFor("the 500", pathPredicate("/api/v3/boom"))
	rows = tb.rows()
	for _, r := range rows {
		if r.Level != "error" {
			t.Fatalf("level=error shows %+v", r)
		}
	}
	if indexOfPath(rows, "/api/v3/secret") < 0 || indexOfPath(rows, "/api/v3/widgets") >= 0 || indexOfPath(rows, "/api/v3/widgets/w1") >= 0 {
		t.Fatalf("level=error: want the 403 and the 500, not the 201 and the 200; got %d rows", len(rows))
	}

	// A live event appears on top, and the filter holds for live events:
	// the info one sent first never shows.
	s.request(t, "POST", "/api/v3/widgets/live-info", 201)
	s.request(t, "DELETE", "/api/v3/widgets/live-check", 500)
	tb.waitFor("the live row on top", visibleRowsJS+`[0].cells[5].textContent === '/api/v3/widgets/live-check'`)
	rows = tb.rows()
	if indexOfPath(rows, "/api/v3/widgets/live-info") >= 0 {
		t.Fatal("an info event showed with level=error")
	}
	live := rows[0]

	// The search box filters the loaded rows.
	tb.do(chromedp.SendKeys(chromedp.ID("f-text"), "live-"))
	tb.waitFor("the search", visibleRowsJS+`.length === 1`)
	tb.do(chromedp.Focus(chromedp.ID("f-text")), chromedp.KeyEvent(kb.Escape)) // Escape clears a search field
	tb.waitFor("the search cleared", visibleRowsJS+`.length > 1`)

	// Enter on the focused row opens its JSON; Escape closes it and gives
	// the focus back; the arrow keys move between rows.
	tb.do(chromedp.Focus(chromedp.CSS(`#rows tr[data-id="`+live.ID+`"]`)), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("the dialog", `document.getElementById('detail').open`)
	text, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.ID("detail-json")))
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		ID    string `json:"id"`
		Level string `json:"level"`
		Req   struct{ Method, Path string }
		Res   struct {
			StatusCode int `json:"statusCode"`
		} `json:"res"`
	}
	if err := json.Unmarshal([]byte(text), &shown); err != nil {
		t.Fatalf("the dialog does not show JSON: %v\n%s", err, text)
	}
	if shown.ID != live.ID || shown.Req.Path != "/api/v3/widgets/live-check" || shown.Req.Method != "DELETE" ||
		shown.Res.StatusCode != 500 || shown.Level != "error" {
		t.Fatalf("the dialog shows %+v, want the live event %s", shown, live.ID)
	}
	if !strings.Contains(text, "\n  \"") {
		t.Errorf("the JSON is not pretty-printed:\n%s", text)
	}
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.waitFor("the dialog closed, focus back on the row",
		`!document.getElementById('detail').open && document.activeElement.dataset.id === `+jsString(live.ID))
	// ArrowDown moves the focus to a row below the live one. (Not always
	// rows[1], nor the live row's next sibling by the time this looks:
	// events written meanwhile, such as a checkpoint, or the viewer's own
	// reads when they are shown, may be inserted in between.) On a
	// loaded machine a key sent as the dialog's focus hand-back settles has
	// been seen to go nowhere (twice in CI under -race): the row is focused
	// again and the key sent again, up to five times.
	below := `!!(document.activeElement.dataset.id && document.activeElement.dataset.id !== ` + jsString(live.ID) + ` &&
		(document.querySelector('#rows tr[data-id=` + jsString(live.ID) + `]').compareDocumentPosition(document.activeElement) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0)`
	moved := false
	for try := 0; try < 5 && !moved; try++ {
		tb.do(chromedp.Focus(chromedp.CSS(`#rows tr[data-id="`+live.ID+`"]`)), chromedp.KeyEvent(kb.ArrowDown))
		for wait := 0; wait < 20 && !moved; wait++ {
			tb.eval(below, &moved)
			if !moved {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	if !moved {
		t.Fatalf("ArrowDown did not move the focus below the live row\npage: %s", tb.state())
	}
	tb.do(chromedp.Click(chromedp.CSS(`#rows tr[data-id="` + rows[2].ID + `"] td.path`)))
	tb.waitFor("the clicked event", `document.getElementById('detail').open && document.getElementById('detail-json').textContent.includes(`+jsString(rows[2].ID)+`)`)
	tb.do(chromedp.Click(chromedp.ID("detail-close")))
	tb.waitFor("the dialog closed", `!document.getElementById('detail').open`)

	// The log files, listed with the token.
	tb.do(chromedp.Click(chromedp.CSS(`#files summary`)))
	tb.waitFor("the log files", `[...document.querySelectorAll('#file-list .file-name')].some(n => n.textContent === 'audit.log')`)
	tb.do(chromedp.Click(chromedp.CSS(`#files summary`)))

	// Loading the page again (filters in its URL) asks for no token.
	tb.do(chromedp.Navigate(s.admin + "/?level=error"))
	tb.waitFor("the rows, without a prompt", pathPredicate("/api/v3/boom")+
		` && document.getElementById('token-panel').hidden && document.getElementById('f-level').value === 'error'`)

	// One pod, no key: the chain is verified, the checkpoints unsigned.
	tb.waitFor("the integrity badge", `(() => { const b = document.querySelector('#integrity button');
		return !!b && b.dataset.state === 'unsigned' && b.title.includes('no key'); })()`)
	tb.checkColumns()

	if dir := os.Getenv("TRAILCAR_SCREENSHOTS"); dir != "" {
		screenshot(t, tb, s, filepath.Join(dir, "screenshot.png"))
	} else if path := os.Getenv("TRAILCAR_SCREENSHOT"); path != "" {
		screenshot(t, tb, s, path)
	}
	tb.noExceptions()
}

// screenshot clears the filters, lets a little more traffic through and
// saves the page as a PNG; a relative path is taken from the repository
// root.
func screenshot(t *testing.T, tb *tab, s site, path string) {
	t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(`#filters button[type="reset"]`)))
	tb.waitFor("all events", pathPredicate("/api/v3/widgets/live-info"))
	for _, r := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/auth/login", 200}, {"POST", "/api/v3/components", 201}, {"PUT", "/api/v3/channels/mychannel", 200},
		{"GET", "/api/v3/settings", 403}, {"DELETE", "/api/v3/components/peer-7", 204}, {"POST", "/api/v3/exports", 500},
	} {
		s.request(t, r.method, r.path, r.status)
	}
	tb.waitFor("the new rows", pathPredicate("/api/v3/exports"))
	tb.screenshot(filepath.Dir(path), filepath.Base(path))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// testTenThousandRows loads 10,000 events page by page and searches them;
// it logs how long the page took (measured in the page), and asserts only
// that every row is there and the search finds the right ones.
func testTenThousandRows(t *testing.T, browser context.Context) {
	s := startSite(t, history(t, 10000, time.Now()))
	tb := newTab(t, browser)
	tb.do(chromedp.Navigate(s.admin + "/"))
	tb.do(chromedp.WaitVisible(chromedp.ID("token-input")))
	tb.do(chromedp.SendKeys(chromedp.ID("token-input"), s.token), chromedp.KeyEvent(kb.Enter))
	tb.waitFor("the first page", `document.querySelectorAll('#rows tr').length >= 500`)
	for {
		var n int
		tb.eval(`document.querySelectorAll('#rows tr').length`, &n)
		if n >= 10000 {
			break
		}
		tb.waitFor("the Load more button", `!document.getElementById('more').hidden && !document.getElementById('more').disabled`)
		tb.do(chromedp.Click(chromedp.ID("more")))
		tb.waitFor("the next page", fmt.Sprintf(`document.querySelectorAll('#rows tr').length > %d`, n))
	}
	var want int
	tb.eval(`[...document.querySelectorAll('#rows tr')].filter(r => r.cells[5].textContent.includes('exports')).length`, &want)
	tb.do(chromedp.SendKeys(chromedp.ID("f-text"), "exports"))
	tb.waitFor("the search", fmt.Sprintf(`%s.length === %d`, visibleRowsJS, want))
	tb.do(chromedp.KeyEvent(kb.Escape)) // clears the search field: every row again
	tb.waitFor("every row again", `document.querySelectorAll('#rows tr').length >= 10000`)
	var timings map[string][]float64
	tb.eval(`performance.getEntriesByType('measure').filter(m => m.name.startsWith('trailcar:')).reduce((o, m) => {
		(o[m.name] = o[m.name] || []).push(Math.round(m.duration * 10) / 10); return o; }, {})`, &timings)
	var api []float64
	tb.eval(`performance.getEntriesByType('resource').filter(r => r.name.includes('/api/v3/events?')).map(r => Math.round(r.duration))`, &api)
	timings["api ms per page"] = api
	var heap float64
	tb.eval(`performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0`, &heap)
	t.Logf("10,000 rows: %d match the search; render ms per step: %v; JS heap %.0f MiB", want, timings, heap)
	if want == 0 {
		t.Error("the search term matches nothing: the test proves nothing")
	}
	tb.noExceptions()
}
