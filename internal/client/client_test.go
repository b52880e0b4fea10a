package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// startSidecar runs a real sidecar with token "t0k" in front of an
// upstream answering 201, and returns a client and a way to make n
// tracked requests.
func startSidecar(t *testing.T) (*client.Client, func(n int)) {
	t.Helper()
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	sc := sidecartest.Start(t, sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "t0k"))
	return &client.Client{BaseURL: sc.AdminURL(), Token: "t0k"}, func(n int) {
		for i := 0; i < n; i++ {
			sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/things/t%d", sc.ProxyURL(), i), "")
		}
	}
}

func TestClient(t *testing.T) {
	c, request := startSidecar(t)
	request(25)
	ctx := context.Background()
	f := event.Filter{Method: "POST"}
	sidecartest.Eventually(t, "the 25 events to be written", func() bool { // just after their responses
		p, err := c.List(ctx, &f, 1000, "")
		return err == nil && p.ItemCount == 25
	})
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
	// The stream shows what is written after it starts: probe until a
	// line comes, then every request must come, in order.
	next := func(wait time.Duration) string {
		select {
		case line := <-got:
			var e event.Event
			if err := event.Decode([]byte(line), &e); err != nil || e.Req.Method != "POST" {
				t.Fatalf("%v: %s", err, line)
			}
			return e.Req.Path
		case <-time.After(wait):
			return ""
		}
	}
	sidecartest.Eventually(t, "the stream to show a request", func() bool { request(1); return next(50*time.Millisecond) != "" })
	request(3)
	want := []string{"/api/v3/things/t0", "/api/v3/things/t1", "/api/v3/things/t2"}
	var paths []string
	// Late lines of probes (all .../t0) may come first.
	for len(paths) < 3 || !slices.Equal(paths[len(paths)-3:], want) {
		path := next(sidecartest.Wait)
		if path == "" {
			t.Fatalf("streamed %q, then nothing; want %q at the end", paths, want)
		}
		paths = append(paths, path)
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
