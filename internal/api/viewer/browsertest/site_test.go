package browsertest_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

const testToken = "browser-test-token"

// startSite runs a real sidecar (a token, a temporary log dir holding the
// seed events as an earlier run left them) in front of a real upstream
// that answers each request with the status named in its X-Test-Status
// header.
func startSite(t *testing.T, seed []*event.Event, configure ...func(*sidecar.Config)) site {
	t.Helper()
	upstream := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(r.Header.Get("X-Test-Status"))
		if err != nil {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, upstream.URL), testToken)
	for _, c := range configure {
		c(&cfg)
	}
	writeHistory(t, cfg.ActivityTracker.Dir, seed)
	s := sidecartest.Start(t, cfg)
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
