package browsertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; TRAILCAR_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("TRAILCAR_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// newBrowser starts headless Chromium with a fresh profile, or skips the
// test when it is not installed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("chromium not installed (%s): apt-get install chromium", path)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Start it now, so that a broken install fails here, clearly.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return browser
}

// tab is one browser tab and the JavaScript exceptions thrown in it.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	exceptions []string
}

// newTab opens a tab; a hang guard bounds everything done in it.
func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
	})
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			text := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				text += " " + ev.ExceptionDetails.Exception.Description
			}
			tb.mu.Lock()
			tb.exceptions = append(tb.exceptions, text)
			tb.mu.Unlock()
		}
	}()
	return tb
}

// do runs steps, failing the test on error.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%v%s", err, tb.state())
	}
}

// eval evaluates expr and decodes its value into out.
func (tb *tab) eval(expr string, out any) {
	tb.t.Helper()
	raw, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.t.Fatalf("evaluate %s: %v: %s", expr, err, raw)
		}
	}
}

// waitFor polls the JavaScript predicate until it holds. The timeout is a
// hang guard, not a measurement.
func (tb *tab) waitFor(what, predicate string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		tb.t.Fatalf("waiting for %s (%s): %v%s", what, predicate, err, tb.state())
	}
}

// row is a visible table row as the test reads it.
type row struct {
	ID, Time, Level, Event, User, Method, Path, Status, Address string
}

const rowsJS = `[...document.querySelectorAll('#rows tr')].filter(r => !r.hidden).map(r => ({
	ID: r.dataset.id, Time: r.cells[0].textContent, Level: r.cells[1].textContent, Event: r.cells[2].textContent,
	User: r.cells[3].textContent, Method: r.cells[4].textContent, Path: r.cells[5].textContent,
	Status: r.cells[6].textContent, Address: r.cells[7].textContent}))`

func (tb *tab) rows() []row {
	tb.t.Helper()
	var rows []row
	tb.eval(rowsJS, &rows)
	return rows
}

// state describes the page for a failure message.
func (tb *tab) state() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`({
		live: document.getElementById('live-state').textContent,
		message: document.getElementById('message').textContent,
		count: document.getElementById('count').textContent,
		rows: document.querySelectorAll('#rows tr').length,
		first: [...document.querySelectorAll('#rows tr')].slice(0, 5).map(r => r.textContent),
	})`))
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	if err == nil {
		fmt.Fprintf(&b, "\npage: %s", raw)
	}
	if len(tb.exceptions) > 0 {
		fmt.Fprintf(&b, "\nJavaScript exceptions: %q", tb.exceptions)
	}
	return b.String()
}

// noExceptions fails the test if the page threw.
func (tb *tab) noExceptions() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.exceptions) > 0 {
		tb.t.Errorf("JavaScript exceptions: %q", tb.exceptions)
	}
}

// columnsJS checks the table's grid: as many header cells as each row has
// cells, every row's cells on one line (the same top), each cell under its
// header cell (the same left edge and width). It returns what is wrong, or
// "" when nothing is.
const columnsJS = `(() => {
	const heads = [...document.querySelectorAll('#events thead th')].map(h => h.getBoundingClientRect());
	const rows = [...document.querySelectorAll('#rows tr')].filter(r => !r.hidden).slice(0, 60);
	if (rows.length === 0) return 'no rows';
	for (const r of rows) {
		const cells = [...r.cells].map(c => c.getBoundingClientRect());
		const where = 'row ' + r.dataset.id + ' (' + r.textContent.slice(0, 60) + ')';
		if (cells.length !== heads.length) return where + ': ' + cells.length + ' cells, ' + heads.length + ' header cells';
		const top = cells[0].top;
		for (let i = 0; i < cells.length; i++) {
			const c = cells[i], h = heads[i];
			if (Math.abs(c.top - top) > 1) return where + ': cell ' + i + ' at top ' + c.top + ', the row at ' + top + ' (wrapped)';
			if (Math.abs(c.left - h.left) > 1 || Math.abs(c.width - h.width) > 1) {
				return where + ': cell ' + i + ' at ' + c.left + '+' + c.width + ', its header at ' + h.left + '+' + h.width;
			}
			if (c.width < 8) return where + ': cell ' + i + ' is ' + c.width + 'px wide';
		}
	}
	return '';
})()`

// checkColumns fails the test when the columns do not line up.
func (tb *tab) checkColumns() {
	tb.t.Helper()
	var wrong string
	tb.eval(columnsJS, &wrong)
	if wrong != "" {
		tb.t.Errorf("the table's columns: %s", wrong)
	}
}

// timedRow is a visible row's id, time (RFC 3339, as the event has it),
// event name, path and host.
type timedRow struct {
	ID, Time, Event, Path, Host string
}

const timedRowsJS = visibleRowsJS + `.map(r => ({ID: r.dataset.id, Time: r.cells[0].firstChild.dateTime,
	Event: r.cells[2].textContent, Path: r.cells[5].textContent, Host: r.cells[8].textContent}))`

func (tb *tab) timedRows() []timedRow {
	tb.t.Helper()
	var rows []timedRow
	tb.eval(timedRowsJS, &rows)
	return rows
}

// screenshot saves the page as dir/name (a relative dir is taken from the
// repository root).
func (tb *tab) screenshot(dir, name string) {
	tb.t.Helper()
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(tb.t), dir)
	}
	tb.eval(`document.activeElement && document.activeElement.blur(), 0`, nil)
	// Rows use content-visibility: auto, so those below the window are
	// not painted; a full-page capture would show them blank. (A rule
	// added through the CSSOM: the CSP refuses a <style> element.)
	tb.eval(`document.styleSheets[0].insertRule(
		'.events tbody tr { content-visibility: visible !important; }', document.styleSheets[0].cssRules.length), 0`, nil)
	tb.do(chromedp.MouseEvent(chromedp.MouseMoved, 1, 1)) // no hover left on what was clicked
	tb.waitFor("no highlight left", `document.getAnimations().length === 0`)
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// repoRoot is the directory of go.mod, above the test's own.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = up
	}
}
