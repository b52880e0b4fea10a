package sidecar_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
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

// TestRotateEvery: with activity_tracker.rotate_every the live file is
// rotated by age at the first line written once it is that old; with
// integrity on each rotated file still ends with the checkpoint that seals
// it (written then, or by integrity.interval before), and verify finds the
// trail intact.
func TestRotateEvery(t *testing.T) {
	tests := []struct {
		name     string
		sealed   bool
		interval time.Duration
	}{
		{"integrity off", false, time.Minute},
		{"sealed at the rotation", true, time.Hour}, // no timed checkpoint comes first
		{"sealed by the interval", true, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
			cfg := sidecartest.Config(t, up.URL)
			cfg.ActivityTracker.RotateEvery = time.Second
			cfg.Integrity.Enabled, cfg.Integrity.Interval = tt.sealed, tt.interval
			s := sidecartest.Start(t, cfg)
			for round := range 3 {
				if round > 0 {
					time.Sleep(1600 * time.Millisecond)
				}
				for i := range 5 {
					sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/things/%d-%d", s.ProxyURL(), round, i), "")
				}
			}
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			files, err := rotate.List(s.Dir(), "audit.log")
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 3 {
				t.Fatalf("%d files, want 3 (two rotations by age)", len(files))
			}
			for i, fi := range files {
				types := lineTypes(t, fi.Path)
				proxied := 0
				for _, typ := range types {
					if typ == "http" {
						proxied++
					}
				}
				if proxied != 5 {
					t.Errorf("%s holds %d http lines, want the 5 of round %d", fi.Name, proxied, 2-i)
				}
				if last := types[len(types)-1]; tt.sealed && i > 0 && last != integrity.CheckpointType {
					t.Errorf("%s ends with a %s line, want its checkpoint", fi.Name, last)
				}
			}
			if !tt.sealed {
				return
			}
			if rep, err := verifyDir(t, s.Dir(), nil); err != nil || !rep.Intact {
				t.Errorf("verify: intact %v, %v", rep.Intact, err)
			}
		})
	}
}

// lineTypes returns the type of each line of one audit file.
func lineTypes(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var e struct{ Type string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		types = append(types, e.Type)
	}
	return types
}
