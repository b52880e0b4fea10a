package integrity_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/integrity"
)

var (
	fuzzOnce sync.Once
	fuzzDir  string
	fuzzKey  ed25519.PrivateKey
)

// TestMain removes FuzzVerify's fixture, made once per process (fuzzing
// workers are processes of this binary too).
func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzDir != "" {
		os.RemoveAll(fuzzDir)
	}
	os.Exit(code)
}

// FuzzVerify edits one byte of a sealed trail (replace, insert or delete,
// anywhere but in the last line of the dir: the final checkpoint, which no
// later line covers) and checks that the edited file is never judged ok,
// and that nothing panics.
func FuzzVerify(f *testing.F) {
	f.Add(uint8(0), uint32(1000), byte('x'), uint8(0))
	f.Add(uint8(1), uint32(50), byte('\n'), uint8(1))
	f.Add(uint8(0), uint32(700), byte(0), uint8(2))
	f.Add(uint8(1), uint32(1<<20), byte('"'), uint8(0))
	f.Fuzz(func(t *testing.T, fileIdx uint8, off uint32, b byte, op uint8) {
		fuzzOnce.Do(func() {
			var err error // one fixture per fuzzing process (workers are processes)
			if fuzzDir, err = os.MkdirTemp("", "trailcar-fuzz-verify-"); err != nil {
				t.Fatal(err)
			}
			fuzzKey = newKey(t)
			trail(t, fuzzDir, fuzzKey, true, 3000)
		})
		dir := copyDir(t, fuzzDir)
		infos := files(t, dir)
		info := infos[int(fileIdx)%len(infos)]
		changed := false
		edit(t, info, func(lines [][]byte) [][]byte {
			text := bytes.Join(lines, nil)
			limit := len(text)
			if info.Live {
				limit -= len(lines[len(lines)-1]) // the final checkpoint
			}
			if limit <= 0 {
				return lines
			}
			at := int(off) % limit
			switch op % 3 {
			case 0:
				if text[at] == b {
					return lines
				}
				text[at] = b
			case 1:
				text = append(text[:at], append([]byte{b}, text[at:]...)...)
			case 2:
				text = append(text[:at], text[at+1:]...)
			}
			changed = true
			return [][]byte{text}
		})
		rep, err := verifyDir(dir, fuzzKey.Public().(ed25519.PublicKey))
		if err != nil {
			return // an edit can make a gzip file unreadable: not a verdict
		}
		got := find(rep, info.Name)
		if changed && got.Status == integrity.StatusOK {
			var w bytes.Buffer
			rep.WriteTable(&w)
			t.Fatalf("%s edited (op %d at %d, byte %q) but judged ok:\n%s", info.Name, op%3, off, b, w.String())
		}
	})
}
