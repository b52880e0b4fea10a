package integrity_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// trail writes a sealed trail as the sidecar does: a real rotating file
// (1 MiB files, compressed when asked) and writer, 4 producers of events
// (12,000 make about 6 rotations), interval checkpoints along the way, a
// clean stop.
func trail(t testing.TB, dir string, key ed25519.PrivateKey, compress bool, events int) {
	t.Helper()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, Compress: compress})
	if err != nil {
		t.Fatal(err)
	}
	st, err := recoverDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seal := integrity.NewSealer(st, key, "audit.log")
	w := audit.New(audit.Options{File: f, Seal: seal, CheckpointEvery: 20 * time.Millisecond,
		Service: "console", Host: "h1", Metrics: metrics.Discard()})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < events; i += 4 {
				e := &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
					Action: "console.widgets.create", Req: event.Request{Method: "POST", Path: fmt.Sprintf("/api/v3/widgets/%d", i)},
					Res: event.Response{StatusCode: 201}, Message: strings.Repeat("m", 400)}
				if err := w.Emit(e); err != nil {
					t.Error(err)
					return
				}
				if i%2000 == 0 {
					time.Sleep(30 * time.Millisecond) // let an interval checkpoint fall due
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func newKey(t testing.TB) ed25519.PrivateKey {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func copyDir(t testing.TB, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), data, 0o640)
	}
	return to
}

// files are the audit files of dir, oldest first.
func files(t testing.TB, dir string) []rotate.Info {
	infos, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(infos)-1; i < j; i, j = i+1, j-1 {
		infos[i], infos[j] = infos[j], infos[i]
	}
	return infos
}

// edit rewrites one file's text (through gzip when compressed).
func edit(t testing.TB, info rotate.Info, fn func(lines [][]byte) [][]byte) {
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
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	out := bytes.Join(fn(lines), nil)
	if info.Compressed {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(out)
		zw.Close()
		out = buf.Bytes()
	}
	if err := os.WriteFile(info.Path, out, 0o640); err != nil {
		t.Fatal(err)
	}
}

// plainLine is the index of an event line (not a checkpoint) near the
// middle of lines.
func plainLine(lines [][]byte) int {
	for i := len(lines) / 2; i < len(lines); i++ {
		if !integrity.IsCheckpoint(lines[i]) {
			return i
		}
	}
	panic("no event line")
}

func find(rep integrity.Report, name string) integrity.FileReport {
	for _, f := range rep.Files {
		if f.Name == name {
			return f
		}
	}
	return integrity.FileReport{}
}

// TestTamperCorpus: each case is made on real files written by a real
// writer with rotation and compression on, and must get the right verdict
// on the right file and lines.
func TestTamperCorpus(t *testing.T) {
	key := newKey(t)
	pristine := t.TempDir()
	trail(t, pristine, key, true, 12000)
	if infos := files(t, pristine); len(infos) < 5 {
		t.Fatalf("%d files: want several rotations", len(infos))
	}
	pub := key.Public().(ed25519.PublicKey)
	rep, err := verifyDir(pristine, pub)
	if err != nil || !rep.Intact {
		var b strings.Builder
		rep.WriteTable(&b)
		t.Fatalf("the pristine trail: %v\n%s", err, b.String())
	}
	for _, f := range rep.Files {
		if f.Status != integrity.StatusOK || f.Checkpoints == 0 {
			t.Fatalf("pristine file %+v", f)
		}
	}

	middle := 2 // a rotated file, compressed
	tests := []struct {
		name    string
		tamper  func(t *testing.T, dir string) string // returns the file that must show it
		status  string
		detail  string // a part of the detail
		tampers bool
	}{
		{"one byte flipped", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte {
				i := plainLine(l)
				l[i] = bytes.Replace(l[i], []byte("widgets"), []byte("widgetz"), 1)
				return l
			})
			return info.Name
		}, integrity.StatusBroken, "lines ", true},
		{"a line removed", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte { i := plainLine(l); return append(l[:i], l[i+1:]...) })
			return info.Name
		}, integrity.StatusBroken, "lines ", true},
		{"a line inserted", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte {
				i := plainLine(l)
				return append(l[:i], append([][]byte{bytes.Clone(l[i])}, l[i:]...)...)
			})
			return info.Name
		}, integrity.StatusBroken, "lines ", true},
		{"two lines swapped", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte {
				i := plainLine(l)
				if integrity.IsCheckpoint(l[i+1]) {
					i--
				}
				l[i], l[i+1] = l[i+1], l[i]
				return l
			})
			return info.Name
		}, integrity.StatusBroken, "lines ", true},
		{"a line appended after the last checkpoint", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte { return append(l, bytes.Clone(l[plainLine(l)])) })
			return info.Name
		}, integrity.StatusUnsealed, "1 lines after the last checkpoint", true},
		{"a middle rotated file deleted", func(t *testing.T, dir string) string {
			infos := files(t, dir)
			os.Remove(infos[middle].Path)
			return fmt.Sprintf("(between %s and %s)", infos[middle-1].Name, infos[middle+1].Name)
		}, integrity.StatusMissing, "missing between", true},
		{"the oldest file deleted by retention", func(t *testing.T, dir string) string {
			infos := files(t, dir)
			os.Remove(infos[0].Path)
			return infos[1].Name
		}, integrity.StatusOK, "the chain starts at checkpoint", false},
		{"a file truncated mid-line", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte {
				i := plainLine(l)
				return append(l[:i], l[i][:len(l[i])/2])
			})
			return info.Name
		}, integrity.StatusBroken, "cut short", true},
		{"a checkpoint's signature changed", func(t *testing.T, dir string) string {
			info := files(t, dir)[middle]
			edit(t, info, func(l [][]byte) [][]byte {
				for i := range l {
					if integrity.IsCheckpoint(l[i]) {
						j := bytes.Index(l[i], []byte(`"sig":"`)) + len(`"sig":"`)
						l[i][j] ^= 1 // still base64: A <-> B and so on
						break
					}
				}
				return l
			})
			return info.Name
		}, integrity.StatusBadSignature, "checkpoint seq ", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			name := tc.tamper(t, dir)
			rep, err := verifyDir(dir, pub)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteTable(&b)
			got := find(rep, name)
			if got.Status != tc.status || !strings.Contains(got.Detail, tc.detail) || rep.Intact == tc.tampers {
				t.Fatalf("%s: %+v, intact %v; want %s with %q\n%s", name, got, rep.Intact, tc.status, tc.detail, b.String())
			}
			for _, f := range rep.Files {
				if f.Name != name && f.Status != integrity.StatusOK {
					t.Errorf("another file also reported: %+v\n%s", f, b.String())
				}
			}
		})
	}

	t.Run("the wrong public key", func(t *testing.T) {
		rep, err := verifyDir(pristine, newKey(t).Public().(ed25519.PublicKey))
		if err != nil || rep.Intact {
			t.Fatalf("intact %v, %v", rep.Intact, err)
		}
		for _, f := range rep.Files {
			if f.Status != integrity.StatusBadSignature {
				t.Errorf("%+v", f)
			}
		}
	})
	t.Run("no key: signatures not checked, chain still checked", func(t *testing.T) {
		rep, err := verifyDir(pristine, nil)
		if err != nil || !rep.Intact || rep.KeyID != "" {
			t.Fatalf("%+v %v", rep, err)
		}
	})
}
