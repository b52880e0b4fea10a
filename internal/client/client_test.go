package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/sidecar"
)

// startSidecar runs a real sidecar with token "t0k" in front of an
// upstream answering 201, and returns a client and a way to make n
// tracked requests.
func startSidecar(t *testing.T) (*client.Client, func(n int)) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	cfg := sidecar.DefaultConfig()
	cfg.Listen, cfg.Admin.Listen, cfg.Upstream = "127.0.0.1:0", "127.0.0.1:0", up.URL
	cfg.Admin.TokenFile = filepath.Join(dir, "token")
	os.WriteFile(cfg.Admin.TokenFile, []byte("t0k"), 0o600)
	cfg.ActivityTracker.Dir = filepath.Join(dir, "logs")
	sc, err := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &client.Client{BaseURL: sc.AdminURL(), Token: "t0k"}, func(n int) {
		for i := 0; i < n; i++ {
			resp, err := http.Post(fmt.Sprintf("%s/api/v3/things/t%d", sc.ProxyURL(), i), "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
}

func TestClient(t *testing.T) {
	c, request := startSidecar(t)
	request(25)
	ctx := context.Background()
	f := event.Filter{Method: "POST"}
	for i := 0; ; i++ { // events are written just after their responses
		p, err := c.List(ctx, &f, 1000, "")
		if err != nil || p.ItemCount == 25 || i > 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var ids []string
	cursor := ""
	for {
		p, err := c.List(ctx, &f, 10, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Results {
			id, _ := event.LineID(r)
			ids = append(ids, string(id))
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if len(ids) != 25 {
		t.Fatalf("paged %d events, want 25", len(ids))
	}
	e, err := c.Get(ctx, ids[3])
	if err != nil || !strings.Contains(string(e), ids[3]) {
		t.Fatalf("get: %s, %v", e, err)
	}
	if _, err := c.Get(ctx, "0193a0b1c2d37e4f8a9b0c1d2e3f4a5b"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get absent: %v", err)
	}
	if n, err := c.Delete(ctx, ids[3]); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if n, err := c.DeleteMatching(ctx, &f, false); err != nil || n != 24 {
		t.Fatalf("delete matching: %d, %v", n, err)
	}
	var apiErr *client.APIError
	if _, err := c.DeleteMatching(ctx, nil, false); !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("delete without filter: %v", err)
	}
	wrong := &client.Client{BaseURL: c.BaseURL, Token: "nope"}
	if _, err := wrong.List(ctx, nil, 0, ""); !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Message == "" {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestStream(t *testing.T) {
	c, request := startSidecar(t)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Stream(ctx, &event.Filter{Method: "POST"}, func(line []byte) error {
			got <- string(line)
			return nil
		})
	}()
	time.Sleep(100 * time.Millisecond)
	request(2)
	for i := 0; i < 2; i++ {
		select {
		case line := <-got:
			var e event.Event
			if err := event.Decode([]byte(line), &e); err != nil || e.Req.Method != "POST" {
				t.Fatalf("%v: %s", err, line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing streamed")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stream after cancel: %v", err)
	}
}

func TestStreamErrorEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": ping\n\ndata: {\"id\":\"a\"}\n\nevent: error\ndata: {\"error\":\"fell behind: too slow\"}\n\n")
	}))
	defer srv.Close()
	var lines []string
	err := (&client.Client{BaseURL: srv.URL}).Stream(context.Background(), nil, func(line []byte) error {
		lines = append(lines, string(line))
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "fell behind: too slow") || len(lines) != 1 {
		t.Fatalf("err %v, lines %q", err, lines)
	}
}
