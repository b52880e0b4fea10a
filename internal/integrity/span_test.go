package integrity_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// verifyRange verifies the files of dir in r, as verify --dir --since
// --before does.
func verifyRange(t testing.TB, dir string, pub ed25519.PublicKey, r integrity.Range) integrity.Report {
	t.Helper()
	sn, err := store.New(store.Options{Dir: dir}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	rep, err := integrity.VerifyWith(context.Background(), sn, pub, integrity.Options{Range: r})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// firstLineTime is the eventTime of a file's first line.
func firstLineTime(t testing.TB, info rotate.Info) time.Time {
	t.Helper()
	f, err := os.Open(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if info.Compressed {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	line, _ := bufio.NewReader(r).ReadBytes('\n')
	var e event.Event
	if err := event.Decode(bytes.TrimSuffix(line, []byte("\n")), &e); err != nil {
		t.Fatalf("%s: %v", info.Name, err)
	}
	return e.Time
}

func names(rep integrity.Report) []string {
	var out []string
	for _, f := range rep.Files {
		out = append(out, f.Name)
	}
	return out
}

// TestVerifyRange: on a real trail (rotation and gzip on), a range checks
// only the files whose lines overlap it: a file edited outside the range
// does not show, one inside does; the first file in range is still linked
// to the one before it; a range past every line checks nothing.
func TestVerifyRange(t *testing.T) {
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	dir := t.TempDir()
	trail(t, dir, key, true, 12000)
	infos := files(t, dir) // oldest first
	if len(infos) < 5 {
		t.Fatalf("%d files: want several rotations", len(infos))
	}
	k := 2
	r := integrity.Range{Since: firstLineTime(t, infos[k]).Add(time.Microsecond), Before: firstLineTime(t, infos[k+2])}
	rep := verifyRange(t, dir, pub, r)
	if want := []string{infos[k].Name, infos[k+1].Name}; !slices.Equal(names(rep), want) || !rep.Intact || rep.Since == "" || rep.Before == "" {
		t.Fatalf("range over files %d-%d: %v intact %v (since %q before %q)", k, k+1, names(rep), rep.Intact, rep.Since, rep.Before)
	}
	for _, f := range rep.Files {
		if f.Status != integrity.StatusOK || f.Detail != "" {
			t.Fatalf("%+v: the first file in range is linked to the one before it, not assumed", f)
		}
	}
	// Open bounds: --since alone reaches the live file, --before alone the oldest.
	if got := names(verifyRange(t, dir, pub, integrity.Range{Since: r.Since})); len(got) != len(infos)-k || got[len(got)-1] != "audit.log" {
		t.Fatalf("since only: %v", got)
	}
	if got := names(verifyRange(t, dir, pub, integrity.Range{Before: r.Before})); len(got) != k+2 || got[0] != infos[0].Name {
		t.Fatalf("before only: %v", got)
	}
	past := verifyRange(t, dir, pub, integrity.Range{Since: time.Now().Add(time.Hour)})
	var table strings.Builder
	past.WriteTable(&table)
	if len(past.Files) != 0 || !past.Intact || table.String() != "no audit files in the range\n" {
		t.Fatalf("a range past every line: %v %q", names(past), table.String())
	}

	// An edit outside the range: not checked, so not seen; the whole
	// trail shows it.
	edit(t, infos[0], func(l [][]byte) [][]byte {
		i := plainLine(l)
		l[i] = bytes.Replace(l[i], []byte("widgets"), []byte("widgetz"), 1)
		return l
	})
	if rep := verifyRange(t, dir, pub, r); !rep.Intact {
		t.Fatalf("an edit before the range shows in it: %+v", rep.Files)
	}
	if rep, err := verifyDir(dir, pub); err != nil || rep.Intact {
		t.Fatalf("the whole trail does not show the edit: %v", err)
	}
	// An edit inside the range shows.
	edit(t, infos[k+1], func(l [][]byte) [][]byte {
		i := plainLine(l)
		l[i] = bytes.Replace(l[i], []byte("widgets"), []byte("widgetz"), 1)
		return l
	})
	rep = verifyRange(t, dir, pub, r)
	if rep.Intact || find(rep, infos[k+1].Name).Status != integrity.StatusBroken || find(rep, infos[k].Name).Status != integrity.StatusOK {
		t.Fatalf("an edit in the range: %+v", rep.Files)
	}
	// The file just before the range cut short: the first file in range
	// does not follow from it, which is not blamed on the file in range.
	edit(t, infos[k-1], func(l [][]byte) [][]byte { return l[:len(l)-3] })
	rep = verifyRange(t, dir, pub, r)
	if f := find(rep, infos[k].Name); f.Status != integrity.StatusOK {
		t.Fatalf("the file before the range cut: the first in range is %+v", f)
	}
}
