package browsertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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
