package browsertest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// csvColumns are the export's columns, as docs/viewer.md lists them.
var csvColumns = []string{"id", "eventTime", "host", "service", "type", "action", "level", "outcome",
	"creds_name", "creds_uuid", "creds_type", "address", "method", "path", "query", "status",
	"resource_type", "resource_id", "duration_ms", "message"}

var trailRead = regexp.MustCompile(`^trailcar\..+\.read$`)

// testExport: both exports of type=http, downloaded by Chromium, hold
// every matching event of both pods (more than a page of the list, more
// than a page of the API), trail reads left out as in the view, in the
// API's order; the JSON Lines are the API's events; the CSV parses as RFC
// 4180 with the documented columns, the hostile path intact.
func testExport(t *testing.T, bctx context.Context, c *cluster) {
	dir := t.TempDir()
	tb := c.open(t, bctx, 0, "/?type=http")
	tb.waitFor("the rows", pathPredicate("/api/v3/widgets/on-pod-1")+` && `+pathPredicate(c.hostilePath))
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatal(err)
	}

	tb.do(chromedp.Click(chromedp.ID("export-jsonl")))
	tb.waitFor("the JSON Lines export", `document.getElementById('export-state').dataset.done === 'jsonl'`)
	jsonl := waitDownload(t, dir, ".jsonl")
	tb.do(chromedp.Click(chromedp.ID("export-csv")))
	tb.waitFor("the CSV export", `document.getElementById('export-state').dataset.done === 'csv'`)
	csvText := waitDownload(t, dir, ".csv")

	var want []map[string]any
	for _, e := range apiEvents(t, c.pods[0], url.Values{"type": {"http"}}) {
		if a, _ := e["action"].(string); !trailRead.MatchString(a) {
			want = append(want, e)
		}
	}
	if len(want) <= 1000 {
		t.Fatalf("%d events to export: want more than a page of the API", len(want))
	}

	// JSON Lines: the API's events, one per line, in its order.
	lines := strings.Split(strings.TrimSuffix(string(jsonl), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("the JSON Lines export has %d lines, the API %d events", len(lines), len(want))
	}
	for i, l := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("line %d:\n%s\nthe API's event:\n%v", i+1, l, want[i])
		}
	}

	// CSV: RFC 4180, the columns documented, a line per event.
	r := csv.NewReader(bytes.NewReader(csvText))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	if !slices.Equal(records[0], csvColumns) {
		t.Fatalf("the CSV's header %q, want %q", records[0], csvColumns)
	}
	if len(records)-1 != len(want) {
		t.Fatalf("the CSV has %d records, the API %d events", len(records)-1, len(want))
	}
	col := func(name string) int { return slices.Index(csvColumns, name) }
	hostile := 0
	for i, rec := range records[1:] {
		e := want[i]
		req, _ := e["req"].(map[string]any)
		res, _ := e["res"].(map[string]any)
		status := ""
		if s, ok := res["statusCode"].(float64); ok {
			status = strconv.Itoa(int(s))
		}
		if rec[col("id")] != e["id"] || rec[col("eventTime")] != e["eventTime"] || rec[col("host")] != e["host"] ||
			rec[col("path")] != orEmpty(req["path"]) || rec[col("method")] != orEmpty(req["method"]) || rec[col("status")] != status {
			t.Fatalf("CSV record %d %q, the API's event %v", i+1, rec, e)
		}
		if rec[col("path")] == c.hostilePath {
			hostile++
		}
	}
	if hostile != 1 {
		t.Errorf("the hostile path %q is in %d CSV records, want 1", c.hostilePath, hostile)
	}
	if !bytes.Contains(csvText, []byte(`,"/api/v3/widgets/a,b""c`+"\nd\",")) {
		t.Errorf("the hostile path is not quoted as RFC 4180 says")
	}
	if !bytes.HasSuffix(csvText, []byte("\r\n")) {
		t.Errorf("the CSV's lines do not end with CRLF")
	}
	tb.noExceptions()
}

func orEmpty(v any) string {
	s, _ := v.(string)
	return s
}

// waitDownload waits for Chromium to finish saving a file named *ext in
// dir (it writes to a .crdownload file first) and returns its content.
func waitDownload(t *testing.T, dir, ext string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		matches, _ := filepath.Glob(filepath.Join(dir, "trailcar-events-*"+ext))
		if len(matches) == 1 {
			b, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if len(matches) > 1 {
			t.Fatalf("%d files %v", len(matches), matches)
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(dir)
	t.Fatalf("no %s file downloaded into %s; it holds %v", ext, dir, entries)
	return nil
}
