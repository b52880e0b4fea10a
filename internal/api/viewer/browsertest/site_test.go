package browsertest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/sidecar"
)

const testToken = "browser-test-token"

// startSite runs a real sidecar (a token, a temporary log dir holding the
// seed events as an earlier run left them) in front of a real upstream
// that answers each request with the status named in its X-Test-Status
// header.
func startSite(t *testing.T, seed []*event.Event) site {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(r.Header.Get("X-Test-Status"))
		if err != nil {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(upstream.Close)
	root := t.TempDir()
	tokenFile := filepath.Join(root, "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sidecar.DefaultConfig()
	cfg.Listen, cfg.Admin.Listen, cfg.Upstream = "127.0.0.1:0", "127.0.0.1:0", upstream.URL
	cfg.Admin.TokenFile = tokenFile
	cfg.ActivityTracker.Dir = filepath.Join(root, "logs")
	writeHistory(t, cfg.ActivityTracker.Dir, seed)
	s, err := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sidecar: %v", err)
		}
	})
	proxy := s.ProxyURL()
	return site{admin: s.AdminURL(), token: testToken, request: func(t *testing.T, method, path string, status int) {
		t.Helper()
		req, _ := http.NewRequest(method, proxy+path, nil)
		req.Header.Set("X-Test-Status", strconv.Itoa(status))
		req.SetBasicAuth("tester", "secret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != status {
			t.Fatalf("%s %s through the proxy: %s, want %d", method, path, res.Status, status)
		}
	}}
}
