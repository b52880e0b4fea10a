package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

// TestVerifySinceBefore: a real sidecar, rotating and compressing, with
// an audited delete in its oldest file; verify --since/--before, through
// the server and from the files, checks only the files whose lines
// overlap the range (the rewritten file still resealed, its delete record
// being after the range), and an edit outside the range does not show in
// it.
func TestVerifySinceBefore(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok-1")
	cfg.ActivityTracker.MaxSizeMB, cfg.ActivityTracker.Compress = 1, true
	cfg.Integrity.Interval = time.Second
	sc := sidecartest.Start(t, cfg)
	dir := sc.Dir()
	for i := 0; len(sidecartest.Files(t, dir)) < 4; i++ {
		sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d/%s", sc.ProxyURL(), i, strings.Repeat("p", 400)), "")
	}
	var victim string
	for _, l := range sidecartest.ReadLines(t, dir, "audit.log") {
		if l.Type == "http" {
			victim = l.ID
			break
		}
	}
	if code, _, body := sidecartest.Do(t, "DELETE", sc.AdminURL()+"/api/v3/events/"+victim, "", "Authorization", "Bearer tok-1"); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	sidecartest.Eventually(t, "the delete record written", func() bool {
		return len(sidecartest.OfType(sidecartest.ReadLines(t, dir, "audit.log"), integrity.DeletedType)) == 1
	})
	sidecartest.Eventually(t, "every rotated file compressed", func() bool {
		infos, _ := rotate.List(dir, "audit.log")
		for _, f := range infos[1:] {
			if !f.Compressed {
				return false
			}
		}
		return true
	})
	infos, _ := rotate.List(dir, "audit.log") // newest first
	liveStart := firstTimeOf(t, infos[0])
	var rotated []string
	for i := len(infos) - 1; i >= 1; i-- {
		rotated = append(rotated, infos[i].Name)
	}
	before := liveStart.Format(time.RFC3339Nano)

	// Through the server: the rotated files only.
	code, out, errOut := evRun(t, "", "verify", "--server", sc.AdminURL(), "--token-file", cfg.Admin.TokenFile, "--before", before, "-o", "json")
	var rep integrity.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Before == "" {
		t.Fatalf("--server --before: exit %d %s%s", code, out, errOut)
	}
	if got := reportNames(rep); !slices.Equal(got, rotated) || rep.Files[0].Status != integrity.StatusResealed {
		t.Fatalf("--server --before the live file: %+v; want %v, the first resealed", rep.Files, rotated)
	}
	if code, _, body := sidecartest.Do(t, "GET", sc.AdminURL()+"/api/v3/integrity?since=yesterday-ish", "", "Authorization", "Bearer tok-1"); code != 400 || !strings.Contains(body, "since") {
		t.Fatalf("a bad since: %d %s", code, body)
	}
	if err := sc.Stop(); err != nil {
		t.Fatal(err)
	}

	// From the files: --before as above; --since the newest rotated file.
	code, out, errOut = evRun(t, "", "verify", "--dir", dir, "--before", before)
	if code != 0 || strings.Contains(out, "audit.log ") || !strings.Contains(out, rotated[0]+"  resealed") {
		t.Fatalf("--dir --before: exit %d\n%s%s", code, out, errOut)
	}
	since := firstTimeOf(t, infos[1]).Add(time.Microsecond).Format(time.RFC3339Nano)
	code, out, errOut = evRun(t, "", "verify", "--dir", dir, "--since", since, "-o", "json")
	rep = integrity.Report{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !slices.Equal(reportNames(rep), []string{infos[1].Name, "audit.log"}) {
		t.Fatalf("--dir --since: exit %d %s%s", code, out, errOut)
	}

	// An edit in the oldest file: outside --since, inside --before.
	data, _ := os.ReadFile(infos[len(infos)-1].Path)
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(bytes.Replace(text, []byte("/api/v3/widgets/"), []byte("/api/v3/widgetz/"), 1))
	zw.Close()
	os.WriteFile(infos[len(infos)-1].Path, z.Bytes(), 0o640)
	if code, out, _ := evRun(t, "", "verify", "--dir", dir, "--since", since); code != 0 {
		t.Fatalf("an edit before --since shows: exit %d\n%s", code, out)
	}
	if code, out, _ := evRun(t, "", "verify", "--dir", dir, "--before", before); code != 1 || !strings.Contains(out, "broken") {
		t.Fatalf("an edit inside --before: exit %d\n%s", code, out)
	}
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, out, _ := evRun(t, "", "verify", "--dir", dir, "--since", later); code != 0 || out != "no audit files in the range\n" {
		t.Fatalf("--since after every line: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"verify", "--dir", dir, "--since", "bogus"},
		{"verify", "--dir", dir, "--since", before, "--before", before},
	} {
		if code, _, errOut := evRun(t, "", args...); code != 2 || !strings.Contains(errOut, args[3]) {
			t.Errorf("%v: exit %d %s; want 2 naming %s", args, code, errOut, args[3])
		}
	}
}

func reportNames(rep integrity.Report) []string {
	var out []string
	for _, f := range rep.Files {
		out = append(out, f.Name)
	}
	return out
}

// firstTimeOf is the eventTime of a file's first line.
func firstTimeOf(t *testing.T, info rotate.Info) time.Time {
	t.Helper()
	data, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Compressed {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		data, _ = io.ReadAll(zr)
	}
	lines := sidecartest.ParseLines(t, info.Name, data[:bytes.IndexByte(data, '\n')+1])
	return lines[0].Time
}
