package logs_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

func writeGzip(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !mod.IsZero() {
		os.Chtimes(path, mod, mod)
	}
}

func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestServeFile(t *testing.T) {
	dir := mkdir(t)
	// The live file ends in a line being written: it is never served torn.
	writeFile(t, filepath.Join(dir, liveName), numbered(1, 5)+"line 6 torn", time.Time{})
	rotated := "audit-2026-11-22T08-15-30.123.log"
	writeFile(t, filepath.Join(dir, rotated), numbered(1, 3), time.Time{})
	gz := "audit-2026-11-21T08-15-30.123.log.gz"
	writeGzip(t, filepath.Join(dir, gz), numbered(1, 200000), time.Time{})
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName)})
	tests := []struct {
		name, path string
		header     []string
		status     int
		body       string // exact, unless errorParam is set
		errorParam string // the 400's message must start with it
	}{
		{name: "whole live file", path: liveName, status: 200, body: numbered(1, 5)},
		{name: "whole rotated file", path: rotated, status: 200, body: numbered(1, 3)},
		{name: "tail 2", path: liveName + "?tail=2", status: 200, body: numbered(4, 5)},
		{name: "tail 1", path: liveName + "?tail=1", status: 200, body: numbered(5, 5)},
		{name: "tail more than the file", path: rotated + "?tail=100000", status: 200, body: numbered(1, 3)},
		{name: "range", path: liveName, header: []string{"Range", "bytes=7-12"}, status: 206, body: "line 2"},
		{name: "suffix range", path: rotated, header: []string{"Range", "bytes=-7"}, status: 206, body: "line 3\n"},
		{name: "gzip decompressed", path: gz + "?tail=3", status: 200, body: numbered(199998, 200000)},
		{name: "follow=false is a plain read", path: rotated + "?follow=false", status: 200, body: numbered(1, 3)},
		{name: "tail 0", path: liveName + "?tail=0", status: 400, errorParam: "tail"},
		{name: "tail negative", path: liveName + "?tail=-1", status: 400, errorParam: "tail"},
		{name: "tail too big", path: liveName + "?tail=100001", status: 400, errorParam: "tail"},
		{name: "tail not a number", path: liveName + "?tail=ten", status: 400, errorParam: "tail"},
		{name: "follow not a bool", path: liveName + "?follow=yes", status: 400, errorParam: "follow"},
		{name: "follow a rotated file", path: rotated + "?follow=true", status: 400, errorParam: "follow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs/"+tt.path, "", tt.header...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %.200s", status, tt.status, body)
			}
			if tt.errorParam != "" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.HasPrefix(e.Error, tt.errorParam+":") {
					t.Fatalf("want a JSON error naming %s, got %s", tt.errorParam, body)
				}
				return
			}
			if ct := header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if body != tt.body {
				t.Errorf("body:\n%.300q\nwant:\n%.300q", body, tt.body)
			}
		})
	}
	t.Run("whole gzip file", func(t *testing.T) {
		status, header, body := sidecartest.Do(t, "GET", srv.URL+"/api/v3/logs/"+gz, "")
		if status != 200 || body != numbered(1, 200000) {
			t.Fatalf("status %d, %d bytes, want the %d decompressed bytes", status, len(body), len(numbered(1, 200000)))
		}
		if header.Get("Accept-Ranges") != "none" {
			t.Errorf("Accept-Ranges %q, want none", header.Get("Accept-Ranges"))
		}
	})
}
