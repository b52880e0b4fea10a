package sidecar_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

// TestRotationUnderLoad: concurrent clients across several rotations of a
// 1 MiB file: every request is one line, no line is torn, lost or
// repeated, and no file is over 1 MiB.
func TestRotationUnderLoad(t *testing.T) {
	message := strings.Repeat("m", 3<<10) // ~3.5 KB lines: a rotation every ~300 requests
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Audit-Message", message)
		w.WriteHeader(201)
	}))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB = 1
	c := sidecartest.Start(t, cfg)

	const clients, perClient = 8, 150
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: sidecartest.Wait} // keep-alive: a connection per client
			for j := range perClient {
				resp, err := client.Post(fmt.Sprintf("%s/api/v3/things/%d-%d", c.ProxyURL(), i, j), "text/plain", nil)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				ids[resp.Header.Get("X-Request-Id")] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed", n)
	}
	if len(ids) != clients*perClient {
		t.Fatalf("%d distinct request ids, want %d", len(ids), clients*perClient)
	}

	files, err := rotate.List(c.Dir(), "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Errorf("%d files, want several rotations", len(files))
	}
	for _, f := range files {
		if fi, err := os.Stat(f.Path); err != nil || fi.Size() > 1<<20 {
			t.Errorf("%s: %v bytes, %v; want at most 1 MiB", f.Name, fi.Size(), err)
		}
	}
	lines := c.Events() // checks each line is whole and valid
	seen := map[string]bool{}
	var httpLines int
	for i, l := range lines {
		if seen[l.ID] {
			t.Errorf("id %s written twice", l.ID)
		}
		seen[l.ID] = true
		if i > 0 && l.Time.Before(lines[i-1].Time) {
			t.Errorf("line %d (%s) is older than the line before it", i+1, l.File)
		}
		if l.Type == "http" {
			httpLines++
			if !ids[l.ID] {
				t.Errorf("event %s of no request", l.ID)
			}
		}
	}
	if httpLines != clients*perClient || len(lines) != clients*perClient+2 {
		t.Errorf("%d lines, %d of requests; want %d requests plus started and stopped", len(lines), httpLines, clients*perClient)
	}
	if lines[0].Type != "system.trailcar.started" || lines[len(lines)-1].Type != "system.trailcar.stopped" {
		t.Errorf("first %s, last %s", lines[0].Type, lines[len(lines)-1].Type)
	}
}

// TestFileDeletedUnderLoad: the live file deleted again and again while
// a small queue is full does not stall the writer (the file_replaced event
// is queued from the writer's own goroutine).
func TestFileDeletedUnderLoad(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	defer up.Close()
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.Queue = 1
	c := sidecartest.Start(t, cfg)

	stopDeleting := make(chan struct{})
	var deletes atomic.Int64
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		for {
			select {
			case <-stopDeleting:
				return
			default:
			}
			if os.Remove(c.Sidecar.AuditPath()) == nil {
				deletes.Add(1)
			}
		}
	}()
	const clients, perClient = 8, 60
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: sidecartest.Wait}
			for range perClient {
				resp, err := client.Post(c.ProxyURL()+"/api/v3/things", "text/plain", nil)
				if err != nil {
					failures.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(stopDeleting)
	<-deleted
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d clients saw a request fail or hang (%d deletes)", n, deletes.Load())
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if deletes.Load() == 0 {
		t.Fatal("the file was never deleted")
	}
	c.Lines() // whatever survived is whole
}
