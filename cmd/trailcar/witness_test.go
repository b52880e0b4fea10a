package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestVerifyWitness: a real sidecar (rotation and gzip on) delivers its
// checkpoints to a webhook receiver, whose file is the witness. A cut
// tail and a rollback of the whole dir pass verify --dir and are caught
// by verify --dir --witness (exit 1, naming the witness seq).
func TestVerifyWitness(t *testing.T) {
	recv := sidecartest.NewRecorder(t, 200)
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB, cfg.ActivityTracker.Compress = 1, true
	cfg.Integrity.Interval = time.Second
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Types = []string{integrity.CheckpointType}
	cfg.Webhooks.Endpoints.EventLog.URL = recv.URL
	dir := cfg.ActivityTracker.Dir
	run := func(files int) {
		s := sidecartest.Start(t, cfg)
		for i := 0; len(sidecartest.Files(t, dir)) < files; i++ {
			sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d/%s", s.ProxyURL(), i, strings.Repeat("p", 400)), "")
		}
		// An interval checkpoint in the live file, delivered.
		sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets/last", "")
		sidecartest.Eventually(t, "a checkpoint in the live file", func() bool {
			for _, l := range sidecartest.OfType(sidecartest.ReadLines(t, dir, "audit.log"), integrity.CheckpointType) {
				if l.File == "audit.log" {
					return true
				}
			}
			return false
		})
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		want := len(sidecartest.OfType(sidecartest.ReadLines(t, dir, "audit.log"), integrity.CheckpointType))
		sidecartest.Eventually(t, "the checkpoints delivered", func() bool { return len(recv.Delivered(t)) >= want-1 })
	}
	run(3)
	older := filepath.Join(t.TempDir(), "older")
	if out, err := exec.Command("cp", "-a", dir, older).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	run(6)

	witness := filepath.Join(t.TempDir(), "witness.jsonl")
	var b strings.Builder
	for _, d := range recv.Delivered(t) {
		line, _ := json.Marshal(d)
		b.Write(append(line, '\n'))
	}
	os.WriteFile(witness, []byte(b.String()), 0o600)
	code, out, errOut := evRun(t, "", "verify", "--dir", dir, "--witness", witness)
	if code != 0 || !strings.Contains(out, `checkpoints of host "test-host"`) {
		t.Fatalf("the trail against its witness: exit %d\n%s%s", code, out, errOut)
	}

	cases := []struct {
		name   string
		tamper func(t *testing.T, d string)
	}{
		{"tail cut", func(t *testing.T, d string) { cutBeforeWitnessed(t, d, b.String()) }},
		{"rolled back", func(t *testing.T, d string) {
			os.RemoveAll(d)
			if out, err := exec.Command("cp", "-a", older, d).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "logs")
			if out, err := exec.Command("cp", "-a", dir, d).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			tc.tamper(t, d)
			if code, out, _ := evRun(t, "", "verify", "--dir", d); code != 0 {
				t.Fatalf("the files alone show it: exit %d\n%s", code, out)
			}
			code, out, _ := evRun(t, "", "verify", "--dir", d, "--witness", witness)
			if code != 1 || !strings.Contains(out, "missing        witness seq ") || !strings.Contains(out, "TAMPERED") {
				t.Fatalf("against the witness: exit %d\n%s", code, out)
			}
		})
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"verify", "--server", "http://127.0.0.1:1", "--witness", witness}, 2},
		{[]string{"verify", "--dir", dir, "--witness-host", "h"}, 2},
		{[]string{"verify", "--dir", dir, "--witness", filepath.Join(dir, "nope")}, 3},
	} {
		if code, _, errOut := evRun(t, "", tc.args...); code != tc.code || !strings.Contains(errOut, "--witness") {
			t.Errorf("%v: exit %d %s; want %d", tc.args, code, errOut, tc.code)
		}
	}
}

// cutBeforeWitnessed cuts the live file of d before its last checkpoint
// the witness holds (with the line before it, so the file ends unsealed,
// as the live file of a running sidecar does).
func cutBeforeWitnessed(t *testing.T, d, witness string) {
	t.Helper()
	live := filepath.Join(d, "audit.log")
	lines := sidecartest.ParseLines(t, "audit.log", mustRead(t, live))
	for i := len(lines) - 1; i > 0; i-- {
		if lines[i].Type == integrity.CheckpointType && strings.Contains(witness, lines[i].ID) {
			var keep strings.Builder
			for _, l := range lines[:i-1] {
				keep.WriteString(l.Raw + "\n")
			}
			os.WriteFile(live, []byte(keep.String()), 0o640)
			return
		}
	}
	t.Fatal("no witnessed checkpoint in the live file")
}

func mustRead(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
