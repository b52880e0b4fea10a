package sidecar_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

const logsTestToken = "logs-test-token"

// logsTestSidecar runs a real sidecar with a token, in front of a real
// upstream, and returns it with its log dir.
func logsTestSidecar(t *testing.T) (*sidecartest.Sidecar, string) {
	t.Helper()
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	s := sidecartest.Start(t, sidecartest.WithToken(t, sidecartest.Config(t, up.URL), logsTestToken))
	return s, s.Dir()
}

// logsTestGet reads url with the token (none when "").
func logsTestGet(t *testing.T, url, token string, header ...string) (int, http.Header, string) {
	t.Helper()
	if token != "" {
		header = append(header, "Authorization", "Bearer "+token)
	}
	return sidecartest.Do(t, http.MethodGet, url, "", header...)
}

// logsTestEvent waits for the audit event of an admin read of path with
// query, and returns it.
func logsTestEvent(t *testing.T, s *sidecartest.Sidecar, path, query string, status int) sidecartest.Line {
	t.Helper()
	return s.WaitLine(fmt.Sprintf("%s event for %s?%s (%d)", sidecar.ActionLogsRead, path, query, status), func(e sidecartest.Line) bool {
		return e.Action == sidecar.ActionLogsRead && e.Req.Path == path && e.Req.Query == query && e.Res.StatusCode == status
	})
}

func TestLogsRoutesNeedTheToken(t *testing.T) {
	s, _ := logsTestSidecar(t)
	admin := s.AdminURL()
	tests := []struct {
		name, path, token string
		status            int
	}{
		{"index without token", "/api/v3/logs", "", 401},
		{"file without token", "/api/v3/logs/audit.log", "", 401},
		{"follow without token", "/api/v3/logs/audit.log?follow=true", "", 401},
		{"index with a wrong token", "/api/v3/logs", "wrong", 401},
		{"index with the token", "/api/v3/logs", logsTestToken, 200},
		{"file with the token", "/api/v3/logs/audit.log?tail=5", logsTestToken, 200},
		{"metrics stay open", "/metrics", "", 200},
		{"healthz stays open", "/healthz", "", 200},
		{"the viewer page needs no token", "/", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := logsTestGet(t, admin+tt.path, tt.token)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %.200s", status, tt.status, body)
			}
			if tt.status == 401 && (header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`)) {
				t.Fatalf("want a JSON error, got %s %s", header.Get("Content-Type"), body)
			}
		})
	}
}

func TestLogsOtherMethods(t *testing.T) {
	s, _ := logsTestSidecar(t)
	for _, path := range []string{"/api/v3/logs", "/api/v3/logs/audit.log"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodDelete, s.AdminURL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+logsTestToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(body), `"error"`) {
				t.Fatalf("DELETE %s: %d Allow %q %s", path, res.StatusCode, res.Header.Get("Allow"), body)
			}
			logsTestEvent(t, s, path, "", http.StatusMethodNotAllowed)
		})
	}
}

// TestLogsReadsAreEvents: every read of the logs is an event, refused
// ones included; a follow stream's is written when it connects.
func TestLogsReadsAreEvents(t *testing.T) {
	s, _ := logsTestSidecar(t)
	admin := s.AdminURL()
	logsTestGet(t, admin+"/api/v3/logs", logsTestToken, "Accept", "application/json")
	logsTestEvent(t, s, "/api/v3/logs", "", 200)
	logsTestGet(t, admin+"/api/v3/logs/audit.log?tail=3", logsTestToken)
	logsTestEvent(t, s, "/api/v3/logs/audit.log", "tail=3", 200)
	logsTestGet(t, admin+"/api/v3/logs/audit.log", "")
	e := logsTestEvent(t, s, "/api/v3/logs/audit.log", "", 401)
	if e.Level != event.LevelError || e.Outcome != event.OutcomeFailure {
		t.Errorf("refused read: level %s outcome %s", e.Level, e.Outcome)
	}

	req, _ := http.NewRequest(http.MethodGet, admin+"/api/v3/logs/audit.log?follow=true&tail=1", nil)
	req.Header.Set("Authorization", "Bearer "+logsTestToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("follow: %s", res.Status)
	}
	// Written while the stream is still open, and streamed to it too.
	e = logsTestEvent(t, s, "/api/v3/logs/audit.log", "follow=true&tail=1", 200)
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), e.ID) {
			return
		}
	}
	t.Fatalf("the follow stream ended without its own event %s: %v", e.ID, sc.Err())
}

// TestLogsOnlyListedFiles: through the real admin port, names that try to
// leave the listed files are 404.
func TestLogsOnlyListedFiles(t *testing.T) {
	s, dir := logsTestSidecar(t)
	secret := filepath.Join(filepath.Dir(dir), "token")
	if err := os.Symlink(secret, filepath.Join(dir, "audit-2026-11-22T08-15-30.123.log")); err != nil {
		t.Fatal(err)
	}
	// dot segments (".." unencoded, "//") are cleaned by http.ServeMux
	// before routing; see logs.CanonicalPathsOnly.
	for _, target := range []string{
		"/api/v3/logs/%2e%2e",
		"/api/v3/logs/..%2ftoken",
		"/api/v3/logs/%2e%2e%2ftoken",
		"/api/v3/logs/" + strings.ReplaceAll(secret, "/", "%2f"),
		`/api/v3/logs/..\token`,
		"/api/v3/logs/audit.log%00",
		"/api/v3/logs/audit-2026-11-22T08-15-30.123.log",
	} {
		t.Run(target, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.AdminURL(), "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "+logsTestToken+"\r\nConnection: close\r\n\r\n")
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusNotFound || strings.Contains(string(body), logsTestToken) {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
		})
	}
}
