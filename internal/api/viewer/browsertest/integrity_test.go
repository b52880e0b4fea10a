package browsertest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// testIntegrity: a badge per pod from GET /api/v3/integrity, fetched once
// however often the rows are drawn again; after a line of pod-1's file is
// edited, "Check now" shows pod-1 tampered, with the broken file in the
// panel, while pod-0 stays intact and the dead peer unreachable.
func testIntegrity(t *testing.T, bctx context.Context, c *cluster) {
	tb := c.open(t, bctx, 0, "/")
	badge := func(host, state string) string {
		return `(() => { const b = document.querySelector('#integrity button[data-host=` + jsString(host) + `]');
			return !!b && b.dataset.state === ` + jsString(state) + `; })()`
	}
	tb.waitFor("pod-0 and pod-1 intact, the dead peer unreachable", badge("pod-0", "intact")+` && `+badge("pod-1", "intact")+` && `+
		`[...document.querySelectorAll('#integrity button[data-state="unreachable"]')].some(b => b.dataset.host.includes(`+jsString(c.down)+`))`)

	// Kept: the rows loaded again three times, the verdict asked once.
	for _, level := range []string{"error", "info", ""} {
		tb.setValue("f-level", level)
		tb.do(chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)))
		tb.waitFor("the rows of level="+level, `(new URLSearchParams(location.search).get('level') || '') === `+jsString(level)+
			` && `+visibleRowsJS+`.length > 0`)
	}
	// The page asks again once a minute on its own: on a machine slow
	// enough for this to take minutes, that many more calls are allowed.
	const integrityCalls = `(() => { const calls = performance.getEntriesByType('resource').filter(r => r.name.includes('/api/v3/integrity'));
		return {Calls: calls.length, Minutes: calls.length ? Math.floor((performance.now() - calls[0].startTime) / 60000) : 0}; })()`
	var calls struct{ Calls, Minutes int }
	tb.eval(integrityCalls, &calls)
	if calls.Calls < 1 || calls.Calls > 1+calls.Minutes {
		t.Errorf("GET /api/v3/integrity asked %d times in %d whole minutes for four loads of the rows, want once (kept)", calls.Calls, calls.Minutes)
	}
	before := calls.Calls

	// Edit a line of pod-1's file in place (same length: the writer sees
	// no truncation), inside a sealed segment: its event is the first
	// request, checkpointed since.
	pod := c.pods[1]
	pod.WaitLine("a checkpoint", func(l sidecartest.Line) bool { return l.Type == "system.audit.checkpoint" })
	path := filepath.Join(pod.Dir(), "audit.log")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte("/api/v3/widgets/on-pod-1"))
	if at < 0 || bytes.Index(b, []byte(`"system.audit.checkpoint"`)) < at {
		t.Fatalf("on-pod-1's line at %d: want it before a checkpoint", at)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("/api/v3/widgets/on-pod-X"), int64(at)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tb.do(chromedp.Click(chromedp.CSS(`#integrity button[data-host="pod-1"]`)))
	tb.waitFor("pod-1's panel", `!document.getElementById('integrity-panel').hidden`)
	tb.do(chromedp.Click(chromedp.ID("integrity-check")))
	tb.waitFor("pod-1 tampered, pod-0 intact", badge("pod-1", "tampered")+` && `+badge("pod-0", "intact"))
	tb.waitFor("the broken file in the panel", `document.getElementById('integrity-title').textContent.includes('tampered') &&
		[...document.querySelectorAll('#integrity-files .file-status')].some(s => s.dataset.status === 'broken')`)
	var title string
	tb.eval(`document.querySelector('#integrity button[data-host="pod-1"]').title`, &title)
	if !strings.Contains(title, "audit.log: broken") {
		t.Errorf("pod-1's badge's detail %q: want the broken file named", title)
	}
	tb.eval(integrityCalls, &calls)
	if calls.Calls <= before || calls.Calls > 2+calls.Minutes {
		t.Errorf("GET /api/v3/integrity asked %d times in %d whole minutes, want once more for Check now", calls.Calls, calls.Minutes)
	}
	tb.noExceptions()
}
