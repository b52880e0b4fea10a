package browsertest_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// pageQuery is the page's URL query as the test reads it.
func (tb *tab) pageQuery() url.Values {
	tb.t.Helper()
	var search string
	tb.eval(`location.search`, &search)
	q, err := url.ParseQuery(strings.TrimPrefix(search, "?"))
	if err != nil {
		tb.t.Fatalf("the page's query %q: %v", search, err)
	}
	return q
}

func (tb *tab) value(id string) string {
	tb.t.Helper()
	var v string
	tb.eval(`document.getElementById(`+jsString(id)+`).value`, &v)
	return v
}

// setValue sets a field's value as a script would (chromedp.SetValue
// refuses an empty one).
func (tb *tab) setValue(id, v string) {
	tb.t.Helper()
	tb.eval(`document.getElementById(`+jsString(id)+`).value = `+jsString(v)+`, 0`, nil)
}

// retype replaces the text of an input as typed, and presses Enter
// (Apply).
func (tb *tab) retype(id, text string) {
	tb.t.Helper()
	tb.setValue(id, "")
	tb.do(chromedp.SendKeys(chromedp.ID(id), text), chromedp.KeyEvent(kb.Enter))
}

// apiEvents pages through GET /api/v3/events of the pod with q, as the
// CLI would: every matching event, newest first.
func apiEvents(t *testing.T, pod *sidecartest.Sidecar, q url.Values) []map[string]any {
	t.Helper()
	q = cloneQuery(q)
	q.Set("limit", "1000")
	var all []map[string]any
	for {
		status, _, body := sidecartest.Do(t, "GET", pod.AdminURL()+"/api/v3/events?"+q.Encode(), "", "Authorization", "Bearer "+testToken)
		if status != 200 {
			t.Fatalf("GET /api/v3/events?%s: %d %s", q.Encode(), status, body)
		}
		var page struct {
			Results    []map[string]any `json:"results"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Results...)
		if page.NextCursor == nil {
			return all
		}
		q.Set("cursor", *page.NextCursor)
	}
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

func ids(events []map[string]any) []string {
	var out []string
	for _, e := range events {
		out = append(out, e["id"].(string))
	}
	return out
}

// testTimesAsTyped: since=5m in the URL filters the list and shows as 5m in
// the Since box; what is typed there stays as typed, in the box and the
// URL, in every form the API takes; a form it does not take is refused
// with the API's reason.
func testTimesAsTyped(t *testing.T, browser context.Context, c *cluster) {
	tb := c.open(t, browser, 0, "/?since=5m")
	tb.waitFor("both pods' recent rows", pathPredicate("/api/v3/widgets/on-pod-0")+` && `+pathPredicate("/api/v3/widgets/on-pod-1"))
	if v := tb.value("f-since"); v != "5m" {
		t.Errorf("?since=5m: the Since box shows %q", v)
	}
	// Resolved against the browser's clock when the page loaded; a margin
	// for the time the test took to get here.
	checkSince(t, tb.timedRows(), time.Now().Add(-5*time.Minute-30*time.Second), "since=5m")

	// Typed: each form the API takes filters, and stays as typed.
	journal := time.Now().UTC().Add(-20 * time.Minute).Format("2006-01-02 15:04")
	for _, typed := range []string{"-1h", "yesterday", journal, time.Now().Add(-3 * time.Hour).Format(time.RFC3339), "today", "90m"} {
		tb.retype("f-since", typed)
		tb.waitFor("the URL with since="+typed, `new URLSearchParams(location.search).get('since') === `+jsString(typed))
		tb.waitFor("the rows since "+typed, pathPredicate("/api/v3/widgets/on-pod-1")+` && document.getElementById('message').hidden`)
		if v := tb.value("f-since"); v != typed {
			t.Errorf("typed %q: the Since box shows %q", typed, v)
		}
		rows := tb.timedRows()
		switch typed {
		case "-1h":
			checkSince(t, rows, time.Now().Add(-time.Hour-time.Minute), typed)
			if !slices.ContainsFunc(rows, func(r timedRow) bool { return r.Host == seededHost }) {
				t.Errorf("since=-1h: none of the earlier run's events (12 to 70 minutes old)")
			}
		case journal:
			at, _ := time.Parse("2006-01-02 15:04", journal) // UTC, as the API reads it
			checkSince(t, rows, at, typed)
		}
	}
	tb.retype("f-before", "2m")
	tb.waitFor("the URL with before=2m and since kept", `new URLSearchParams(location.search).get('before') === '2m' &&
		new URLSearchParams(location.search).get('since') === '90m'`)
	tb.waitFor("only older rows", `!`+pathPredicate("/api/v3/widgets/on-pod-1")+` && `+visibleRowsJS+`.length > 0`)
	for _, r := range tb.timedRows() {
		if at, _ := time.Parse(time.RFC3339Nano, r.Time); at.After(time.Now().Add(-2 * time.Minute)) {
			t.Errorf("before=2m shows %+v", r)
		}
	}

	tb.retype("f-since", "soon")
	tb.waitFor("the API's refusal", `!document.getElementById('message').hidden &&
		document.getElementById('message').textContent.includes('since')`)
	if v := tb.value("f-since"); v != "soon" {
		t.Errorf("a refused since: the box shows %q, want it as typed", v)
	}
	tb.noExceptions()
}

// queryIs is a predicate: the page's query holds exactly q.
func queryIs(q url.Values) string {
	var b strings.Builder
	b.WriteString(`(() => { const p = new URLSearchParams(location.search); return [...p.keys()].length === ` + strconv.Itoa(len(q)))
	for k := range q {
		b.WriteString(` && p.get(` + jsString(k) + `) === ` + jsString(q.Get(k)))
	}
	b.WriteString(`; })()`)
	return b.String()
}

func checkSince(t *testing.T, rows []timedRow, since time.Time, what string) {
	t.Helper()
	if len(rows) == 0 {
		t.Errorf("%s: no rows", what)
	}
	for _, r := range rows {
		at, err := time.Parse(time.RFC3339Nano, r.Time)
		if err != nil || at.Before(since) {
			t.Errorf("%s: a row from %s (%s %s), before %s", what, r.Time, r.Event, r.Path, since.Format(time.RFC3339))
			return
		}
	}
}

// testFilters: action, method, resource and outcome from the URL go to
// the API and into the form; set in the form they go to the URL; the rows
// are what the API answers for the same parameters.
func testFilters(t *testing.T, browser context.Context, c *cluster) {
	q := url.Values{"action": {"console.widgets.*"}, "method": {"DELETE"}, "outcome": {"failure"}, "resource": {"/api/v3/widgets/*"}}
	tb := c.open(t, browser, 0, "/?"+q.Encode())
	tb.waitFor("the two failed deletes", visibleRowsJS+`.length === 2 && `+pathPredicate("/api/v3/widgets/gone-0")+` && `+pathPredicate("/api/v3/widgets/gone-1"))
	for id, want := range map[string]string{"f-action": "console.widgets.*", "f-method": "DELETE", "f-outcome": "failure", "f-resource": "/api/v3/widgets/*"} {
		if v := tb.value(id); v != want {
			t.Errorf("from the URL, %s shows %q, want %q", id, v, want)
		}
	}

	// Set in the form: the URL follows, and the rows are the API's.
	tb.setValue("f-outcome", "success")
	tb.setValue("f-method", "")
	tb.do(chromedp.SendKeys(chromedp.ID("f-method"), "PUT"))
	tb.setValue("f-action", "")
	tb.do(chromedp.SendKeys(chromedp.ID("f-action"), "console.gadgets.*"))
	tb.retype("f-resource", "/api/v3/gadgets/g-?")
	want := url.Values{"action": {"console.gadgets.*"}, "method": {"PUT"}, "outcome": {"success"}, "resource": {"/api/v3/gadgets/g-?"}}
	tb.waitFor("the URL with the new filters", queryIs(want))
	tb.waitFor("the two updates", visibleRowsJS+`.length === 2 && `+pathPredicate("/api/v3/gadgets/g-0")+` && `+pathPredicate("/api/v3/gadgets/g-1"))
	var shown []string
	for _, r := range tb.timedRows() {
		shown = append(shown, r.ID)
	}
	if api := ids(apiEvents(t, c.pods[0], want)); !slices.Equal(shown, api) {
		t.Errorf("the rows %v, the API's answer to %s %v", shown, want.Encode(), api)
	}

	// The link reproduces the view in another tab.
	var link string
	tb.eval(`location.href`, &link)
	other := newTab(t, browser)
	other.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("token-input")),
		chromedp.SendKeys(chromedp.ID("token-input"), testToken), chromedp.KeyEvent(kb.Enter))
	other.waitFor("the same two rows", visibleRowsJS+`.length === 2 && `+pathPredicate("/api/v3/gadgets/g-0")+` && `+pathPredicate("/api/v3/gadgets/g-1"))
	if v := other.value("f-resource"); v != "/api/v3/gadgets/g-?" {
		t.Errorf("the link's resource field: %q", v)
	}
	if os.Getenv("TRAILCAR_SCREENSHOTS") != "" {
		screenshotFilters(t, tb, c)
	}
	tb.noExceptions()
	other.noExceptions()
}

// testTrailReads: with the toggle on (the default), no trailcar.*.read row
// shows, and pages still fill: pod-1's own requests show although the 600
// newest events of pod-1 are reads. Off, the reads show, and the URL says
// so. The files keep them either way.
func testTrailReads(t *testing.T, browser context.Context, c *cluster) {
	pod := c.pods[1]
	for range 600 {
		sidecartest.Do(t, "GET", pod.AdminURL()+"/api/v3/events?limit=1&scope=local", "", "Authorization", "Bearer "+testToken)
	}
	// Each read's event is written once its answer is sent: wait for all.
	for deadline := time.Now().Add(sidecartest.Wait); ; time.Sleep(50 * time.Millisecond) {
		reads := apiEvents(t, pod, url.Values{"action": {"trailcar.*.read"}, "scope": {"local"}})
		if len(reads) >= 600 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d trail reads in pod-1's trail, want at least 600", len(reads))
		}
	}
	tb := c.open(t, browser, 1, "/?host=pod-1")
	tb.waitFor("pod-1's requests, under 600 newer reads", pathPredicate("/api/v3/widgets/on-pod-1")+` && `+pathPredicate("/api/v3/gadgets/g-1"))
	if !tb.isChecked("f-hide-reads") {
		t.Error("Hide trail reads is off by default")
	}
	isRead := `r.cells[2].textContent.startsWith('trailcar.') && r.cells[2].textContent.endsWith('.read')`
	var n int
	tb.eval(visibleRowsJS+`.filter(r => `+isRead+`).length`, &n)
	if n != 0 {
		t.Errorf("with the toggle on, %d trailcar.*.read rows show", n)
	}

	tb.do(chromedp.Click(chromedp.ID("f-hide-reads")))
	tb.waitFor("the reads, and reads=show in the URL", visibleRowsJS+`.filter(r => `+isRead+`).length >= 100 &&
		new URLSearchParams(location.search).get('reads') === 'show'`)
	tb.do(chromedp.Click(chromedp.ID("f-hide-reads")))
	tb.waitFor("the reads hidden again", `!new URLSearchParams(location.search).has('reads') && `+pathPredicate("/api/v3/widgets/on-pod-1")+
		` && `+visibleRowsJS+`.filter(r => `+isRead+`).length === 0`)
	// Hidden from the view, never from the file.
	if lines := len(sidecartest.ReadLines(t, pod.Dir(), "")); lines < 600 {
		t.Errorf("pod-1's file holds %d lines", lines)
	}
	tb.noExceptions()
}

func (tb *tab) isChecked(id string) bool {
	tb.t.Helper()
	var on bool
	tb.eval(`document.getElementById(`+jsString(id)+`).checked`, &on)
	return on
}

// testZoom: the 1h preset sets since=1h; dragging across the chart
// narrows the list and the chart to the range dragged over (since and
// before in the URL and the boxes); Reset zoom brings the hour back.
func testZoom(t *testing.T, browser context.Context, c *cluster) {
	tb := c.open(t, browser, 0, "/")
	tb.waitFor("the rows", pathPredicate("/api/v3/widgets/on-pod-0"))
	tb.do(chromedp.Click(chromedp.CSS(`button[data-range="1h"]`)))
	tb.waitFor("since=1h", `new URLSearchParams(location.search).get('since') === '1h' &&
		document.querySelector('button[data-range="1h"]').getAttribute('aria-pressed') === 'true' &&
		document.getElementById('chart-title').textContent.includes('last 1 h')`)
	tb.waitFor("the chart's bars", `document.querySelectorAll('#chart rect.bar-success').length > 10`)

	// Drag from 20% to 60% of the plot: 48 to 24 minutes ago.
	var box struct{ Left, Top, Width, Height float64 }
	tb.eval(`(() => { const b = document.getElementById('chart').getBoundingClientRect();
		return {Left: b.left, Top: b.top, Width: b.width, Height: b.height}; })()`, &box)
	plotLeft, plotWidth := box.Left+34, box.Width-40
	x0, x1, y := plotLeft+0.2*plotWidth, plotLeft+0.6*plotWidth, box.Top+box.Height/2
	held := func(p *input.DispatchMouseEventParams) { p.Button, p.Buttons = input.MouseButtonLeft, 1 }
	began := time.Now()
	tb.do(chromedp.MouseEvent(chromedp.MouseMoved, x0, y),
		chromedp.MouseEvent(chromedp.MousePressed, x0, y, held, chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, held),
		chromedp.MouseEvent(chromedp.MouseMoved, x1, y, held),
		chromedp.MouseEvent(chromedp.MouseReleased, x1, y, held, chromedp.ClickCount(1)))
	tb.waitFor("since and before in the URL", `new URLSearchParams(location.search).has('before') && new URLSearchParams(location.search).get('since') !== '1h'`)
	q := tb.pageQuery()
	since, err1 := time.Parse(time.RFC3339, q.Get("since"))
	before, err2 := time.Parse(time.RFC3339, q.Get("before"))
	if err1 != nil || err2 != nil {
		t.Fatalf("after the drag, since=%q before=%q: want RFC 3339 times", q.Get("since"), q.Get("before"))
	}
	// The hour is drawn in whole minutes, so the ends may be a minute off.
	wantSince, wantBefore := began.Add(-48*time.Minute), began.Add(-24*time.Minute)
	if d := since.Sub(wantSince).Abs(); d > 3*time.Minute {
		t.Errorf("since %s, want about %s", since, wantSince)
	}
	if d := before.Sub(wantBefore).Abs(); d > 3*time.Minute {
		t.Errorf("before %s, want about %s", before, wantBefore)
	}
	if v := tb.value("f-since"); v != q.Get("since") {
		t.Errorf("the Since box shows %q, the URL %q", v, q.Get("since"))
	}
	tb.waitFor("the zoomed list and chart", `!`+pathPredicate("/api/v3/widgets/on-pod-0")+` && `+visibleRowsJS+`.length > 0 &&
		document.getElementById('chart-title').textContent.includes('–') && !document.getElementById('zoom-reset').hidden &&
		document.getElementById('live-state').dataset.state === 'ended'`)
	rows := tb.timedRows()
	for _, r := range rows {
		at, _ := time.Parse(time.RFC3339Nano, r.Time)
		if at.Before(since) || !at.Before(before) {
			t.Errorf("zoomed to [%s, %s), a row from %s", since, before, r.Time)
		}
	}
	want := len(apiEvents(t, c.pods[0], url.Values{"since": {q.Get("since")}, "before": {q.Get("before")}, "host": {seededHost}}))
	if len(rows) != min(want, 500) {
		t.Errorf("zoomed: %d rows, the API has %d events of the earlier run in the range", len(rows), want)
	}

	tb.do(chromedp.Click(chromedp.ID("zoom-reset")))
	tb.waitFor("the hour again", `new URLSearchParams(location.search).get('since') === '1h' && !new URLSearchParams(location.search).has('before') && `+
		pathPredicate("/api/v3/widgets/on-pod-0")+` && document.getElementById('zoom-reset').hidden`)
	tb.noExceptions()
}

// screenshotFilters saves the filtered view, with the integrity panel of
// pod-0 open, for docs/viewer.md.
func screenshotFilters(t *testing.T, tb *tab, c *cluster) {
	t.Helper()
	tb.retype("f-since", "2h")
	for _, id := range []string{"f-action", "f-method", "f-outcome", "f-resource"} {
		tb.setValue(id, "")
	}
	tb.retype("f-type", "http")
	tb.waitFor("the rows", pathPredicate("/api/v3/widgets/on-pod-0"))
	tb.waitFor("the integrity badges", `document.querySelectorAll('#integrity button[data-state="intact"]').length === 2`)
	tb.do(chromedp.Click(chromedp.CSS(`#integrity button[data-host="pod-0"]`)))
	tb.waitFor("the integrity panel", `!document.getElementById('integrity-panel').hidden`)
	tb.screenshot(os.Getenv("TRAILCAR_SCREENSHOTS"), "viewer-filters.png")
}
