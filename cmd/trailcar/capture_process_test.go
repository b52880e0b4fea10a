package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// captureRSS is the peak RSS the sidecar may reach while a capture rule
// copies from a 100 MB upload: capture keeps a bounded head, never the
// body.
const captureRSS = 48 << 20

// patternReader is left bytes of patternLine repeated, the same whatever
// the reads.
type patternReader struct{ left, at int64 }

const patternLine = "0123456789 the quick brown fox jumps over the lazy dog\n"

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.left))
	for i := range n {
		b[i] = patternLine[(p.at+int64(i))%int64(len(patternLine))]
	}
	p.at += int64(n)
	p.left -= int64(n)
	return n, nil
}

// TestCaptureUploadProcess: a 100 MB upload through the real binary, with
// a capture rule on it, reaches the app whole; the event keeps the first
// max_bytes, cut; the sidecar's peak RSS (VmHWM) stays under 48 MB.
func TestCaptureUploadProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if sidecartest.RaceEnabled {
		t.Skip("measures the RSS of a real process; not under -race")
	}
	const size = 100 << 20
	wantHash := sha256.New()
	io.Copy(wantHash, &patternReader{left: size})
	gotHash := make(chan []byte, 1)
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		if n != size {
			t.Errorf("the app got %d bytes", n)
		}
		gotHash <- h.Sum(nil)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%d,"token":"t"}`, n)
	}))
	dir := t.TempDir()
	bin := coreBuildBinary(t, dir)
	logs := filepath.Join(dir, "logs")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
service: uploads
admin: { listen: "127.0.0.1:0" }
activity_tracker:
  dir: %q
  capture:
    - { path: "/upload", methods: [PUT], request: true, response: true, max_bytes: 32768 }
integrity: { enabled: false }
`, up.URL, logs)), 0o600)
	p := coreStartProcess(t, bin, nil, "serve", "--config", cfg)
	proxyAddr, _ := coreStartedAddrs(t, filepath.Join(logs, "audit.log"))
	before := peakRSS(t, p.cmd.Process.Pid)

	req, _ := http.NewRequest("PUT", "http://"+proxyAddr+"/upload", &patternReader{left: size})
	req.ContentLength = size
	req.Header.Set("Content-Type", "text/plain")
	resp, err := (&http.Client{Timeout: 5 * coreWait}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string((<-gotHash)) != string(wantHash.Sum(nil)) {
		t.Error("the app got another body")
	}
	if want := fmt.Sprintf(`{"received":%d,"token":"t"}`, size); string(answer) != want {
		t.Errorf("the client got %q", answer)
	}
	l := coreWaitAudit(t, filepath.Join(logs, "audit.log"), "the upload's event", func(l coreAuditLine) bool { return l.Action == "uploads.upload.update" })
	var line struct {
		Req struct {
			Body          string `json:"body"`
			BodyTruncated bool   `json:"body_truncated"`
		} `json:"req"`
		Res struct {
			Body json.RawMessage `json:"body"`
		} `json:"res"`
	}
	raw := findLine(t, filepath.Join(logs, "audit.log"), l.ID)
	if err := json.Unmarshal(raw, &line); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat(patternLine, 32768/len(patternLine)+1)[:32768]
	if line.Req.Body != want || !line.Req.BodyTruncated {
		t.Errorf("req.body %d bytes (truncated %v), want the first 32768, cut", len(line.Req.Body), line.Req.BodyTruncated)
	}
	if want := fmt.Sprintf(`{"received":%d,"token":"REDACTED"}`, size); string(line.Res.Body) != want {
		t.Errorf("res.body %s, want %s", line.Res.Body, want)
	}
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("sidecar peak RSS: %.1f MiB after start, %.1f MiB after the 100 MB upload (bound %d MiB)",
		float64(before)/(1<<20), float64(peak)/(1<<20), captureRSS>>20)
	if peak > captureRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", peak>>20, captureRSS>>20)
	}
}

// findLine is the audit line with event id id.
func findLine(t *testing.T, path, id string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, `"id":"`+id+`"`) {
			return []byte(l)
		}
	}
	t.Fatalf("no line with id %s", id)
	return nil
}
