package integrity_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/store"
)

var (
	fuzzOnce    sync.Once
	fuzzDir     string
	fuzzKey     ed25519.PrivateKey
	fuzzWitness []byte // the fixture's checkpoints, as a webhook receiver keeps them
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
// later line covers) or cuts the live file's tail (anywhere before the
// final checkpoint's end), and checks that an edited file is never judged
// ok, on the files alone and against a witness of the checkpoints, that a
// cut tail the witness covers is never intact, and that nothing panics.
func FuzzVerify(f *testing.F) {
	f.Add(uint8(0), uint32(1000), byte('x'), uint8(0))
	f.Add(uint8(1), uint32(50), byte('\n'), uint8(1))
	f.Add(uint8(0), uint32(700), byte(0), uint8(2))
	f.Add(uint8(1), uint32(1<<20), byte('"'), uint8(0))
	f.Add(uint8(0), uint32(5000), byte(0), uint8(3))
	f.Add(uint8(0), uint32(0), byte(0), uint8(3))
	f.Fuzz(func(t *testing.T, fileIdx uint8, off uint32, b byte, op uint8) {
		fuzzOnce.Do(func() {
			var err error // one fixture per fuzzing process (workers are processes)
			if fuzzDir, err = os.MkdirTemp("", "trailcar-fuzz-verify-"); err != nil {
				t.Fatal(err)
			}
			fuzzKey = newKey(t)
			trail(t, fuzzDir, fuzzKey, true, 3000)
			for _, l := range checkpointLines(t, fuzzDir) {
				fuzzWitness = append(fuzzWitness, `{"notification_type":"event_log","event":`...)
				fuzzWitness = append(append(fuzzWitness, l...), "}\n"...)
			}
		})
		dir := copyDir(t, fuzzDir)
		infos := files(t, dir)
		info := infos[int(fileIdx)%len(infos)]
		cut := op%4 == 3
		if cut {
			info = infos[len(infos)-1] // the live file
		}
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
			if cut {
				changed = true
				return [][]byte{text[:at]}
			}
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
		if !changed {
			return
		}
		pub := fuzzKey.Public().(ed25519.PublicKey)
		rep, err := verifyDir(dir, pub)
		if err != nil {
			return // an edit can make a gzip file unreadable: not a verdict
		}
		if got := find(rep, info.Name); !cut && got.Status == integrity.StatusOK {
			t.Fatalf("%s edited (op %d at %d, byte %q) but judged ok:\n%s", info.Name, op%3, off, b, table(rep))
		}
		w, err := integrity.ReadWitness(bytes.NewReader(fuzzWitness))
		if err != nil {
			t.Fatal(err)
		}
		sn, err := store.New(store.Options{Dir: dir}).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		rep, err = integrity.VerifyWith(context.Background(), sn, pub, integrity.Options{Witness: w})
		if err != nil {
			return
		}
		switch got := find(rep, info.Name); {
		case cut && rep.Intact:
			t.Fatalf("the live file cut at %d, intact against the witness:\n%s", off, table(rep))
		case !cut && got.Status == integrity.StatusOK:
			t.Fatalf("%s edited (op %d at %d, byte %q), ok against the witness:\n%s", info.Name, op%3, off, b, table(rep))
		}
	})
}
