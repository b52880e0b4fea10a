package integrity_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/store"
)

// checkpointLines are the checkpoint lines of dir's files, oldest first:
// what a webhook receiver for system.audit.checkpoint would have kept.
func checkpointLines(t testing.TB, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, info := range files(t, dir) {
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
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			if integrity.IsCheckpoint(l) {
				out = append(out, bytes.TrimSuffix(l, []byte("\n")))
			}
		}
	}
	return out
}

// writeWitness writes checkpoint lines as form: "event" (the lines),
// "envelope" (webhook envelopes), "batch" (arrays of two envelopes) or
// "hit" (a log store's hits), with lines a witness skips among them.
func writeWitness(t testing.TB, lines [][]byte, form string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("not json\n{\"type\":\"http\",\"host\":\"h1\"}\n\n")
	envelope := func(l []byte) string { return `{"notification_type":"event_log","event":` + string(l) + `}` }
	for i := 0; i < len(lines); i++ {
		switch form {
		case "event":
			b.Write(lines[i])
		case "envelope":
			b.WriteString(envelope(lines[i]))
		case "batch":
			b.WriteString("[" + envelope(lines[i]))
			if i+1 < len(lines) {
				i++
				b.WriteString("," + envelope(lines[i]))
			}
			b.WriteString("]")
		case "hit":
			b.WriteString(`{"_index":"trailcar","_id":"x","_source":` + string(lines[i]) + `}`)
		}
		b.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), "witness.jsonl")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyWitness verifies dir held against the witness file at path.
func verifyWitness(t testing.TB, dir string, pub ed25519.PublicKey, path, host string) integrity.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := integrity.ReadWitness(f)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := store.New(store.Options{Dir: dir}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	rep, err := integrity.VerifyWith(context.Background(), sn, pub, integrity.Options{Witness: w, WitnessHost: host})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func table(rep integrity.Report) string {
	var b strings.Builder
	rep.WriteTable(&b)
	return b.String()
}

// TestWitness: a real trail (rotation and gzip on) written in two runs;
// a witness of its checkpoints in each input form; a cut tail and a
// rollback (alone, and written on) pass verify on the files alone and are
// caught against the witness, naming the witness seq; the oldest file
// removed (retention) is not; another host's checkpoints are not used
// unless asked for.
func TestWitness(t *testing.T) {
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	dir := t.TempDir()
	trail(t, dir, key, true, 6000)
	older := copyDir(t, dir) // the first run only
	trail(t, dir, key, true, 6000)
	cps := checkpointLines(t, dir)
	if len(files(t, dir)) < 5 || len(cps) < 6 {
		t.Fatalf("%d files, %d checkpoints: want several", len(files(t, dir)), len(cps))
	}
	for _, form := range []string{"event", "envelope", "batch", "hit"} {
		rep := verifyWitness(t, dir, pub, writeWitness(t, cps, form), "")
		if !rep.Intact || rep.Witness == nil || rep.Witness.Checkpoints != len(cps) || rep.Witness.Host != "h1" || rep.Witness.Skipped != 2 {
			t.Fatalf("%s: the pristine trail against its witness: %+v\n%s", form, rep.Witness, table(rep))
		}
	}
	witness := writeWitness(t, cps, "envelope")
	lastSeq := len(cps) // seqs count from 1 in a new dir
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		status string
		file   string // the file that shows it
		detail string
	}{
		{"tail cut with its last checkpoint", func(t *testing.T, dir string) {
			live := files(t, dir)[len(files(t, dir))-1]
			edit(t, live, func(l [][]byte) [][]byte {
				for i := len(l) - 1; i >= 0; i-- {
					if integrity.IsCheckpoint(l[i]) {
						return l[:i-1] // the checkpoint and the line before it
					}
				}
				t.Fatal("no checkpoint in the live file")
				return nil
			})
		}, integrity.StatusMissing, "audit.log", fmt.Sprintf("witness seq %d:", lastSeq)},
		{"rolled back to an older copy", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.Rename(copyDir(t, older), dir)
		}, integrity.StatusMissing, "audit.log", "witness seq "},
		{"rolled back and written on", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.Rename(copyDir(t, older), dir)
			trail(t, dir, key, true, 3000)
		}, integrity.StatusBroken, "", "witness seq "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := copyDir(t, dir)
			tt.tamper(t, d)
			if rep, err := verifyDir(d, pub); err != nil || !rep.Intact {
				t.Fatalf("the files alone already show it (%v): the case tests nothing\n%s", err, table(rep))
			}
			rep := verifyWitness(t, d, pub, witness, "")
			shown := false
			for _, f := range rep.Files {
				if f.Status == tt.status && strings.Contains(f.Detail, tt.detail) && (tt.file == "" || f.Name == tt.file) {
					shown = true
				}
			}
			if rep.Intact || !shown {
				t.Fatalf("want %s %q on %q:\n%s", tt.status, tt.detail, tt.file, table(rep))
			}
		})
	}

	t.Run("oldest file removed by retention", func(t *testing.T) {
		d := copyDir(t, dir)
		os.Remove(filepath.Join(d, files(t, d)[0].Name))
		if rep := verifyWitness(t, d, pub, witness, ""); !rep.Intact {
			t.Fatalf("pruned checkpoints counted as missing:\n%s", table(rep))
		}
	})
	t.Run("another host", func(t *testing.T) {
		var other [][]byte
		for _, l := range cps {
			l = bytes.Replace(l, []byte(`"host":"h1"`), []byte(`"host":"h2"`), 1)
			var e map[string]any
			json.Unmarshal(l, &e)
			e["details"].(map[string]any)["chain"] = strings.Repeat("ab", 32)
			out, _ := json.Marshal(e)
			other = append(other, out)
		}
		mixed := writeWitness(t, append(append([][]byte{}, cps...), other...), "event")
		if rep := verifyWitness(t, dir, pub, mixed, ""); !rep.Intact || rep.Witness.Host != "h1" {
			t.Fatalf("h2's checkpoints used for h1's files:\n%s", table(rep))
		}
		if rep := verifyWitness(t, dir, pub, mixed, "h2"); rep.Intact || !strings.Contains(table(rep), "witness seq 1: the witness has chain abababab") {
			t.Fatalf("--witness-host h2:\n%s", table(rep))
		}
	})
}
