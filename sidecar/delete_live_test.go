package sidecar_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

// TestSealedDeleteFromLiveFile: with integrity on, an audited delete of
// an event in the live file leaves the file a reader holds as it was,
// but for the lines appended before it was sealed with its checkpoint
// and rotated aside; and
// the rotated copy, rewritten without the event, ends with that
// checkpoint re-sealed; the writer goes on in a new file, the delete
// record lands there, and verify says intact.
func TestSealedDeleteFromLiveFile(t *testing.T) {
	s, key := startSealed(t)
	for i := range 20 {
		sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d", s.ProxyURL(), i), "")
	}
	lines := s.WaitLine("the last request's event", func(l sidecartest.Line) bool { return strings.HasSuffix(l.Req.Path, "/19") })
	live := filepath.Join(s.Dir(), "audit.log")
	held, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldInfo, _ := held.Stat()
	before, _ := io.ReadAll(held)

	code, _, body := sidecartest.Do(t, "DELETE", s.AdminURL()+"/api/v3/events/"+lines.ID, "")
	if code != 200 || !strings.Contains(body, `"deleted":1`) {
		t.Fatalf("delete: %d %s", code, body)
	}
	// The file held was only appended to: the lines queued before the
	// delete's rotation, and the checkpoint that seals it.
	now, err := io.ReadAll(io.NewSectionReader(held, 0, 1<<30))
	if err != nil || !bytes.HasPrefix(now, before) {
		t.Fatalf("the live file a reader held was changed, not appended to (%v)", err)
	}
	appended := sidecartest.ParseLines(t, "held", now[len(before):])
	if len(appended) == 0 || appended[len(appended)-1].Type != integrity.CheckpointType {
		t.Fatalf("the live file a reader held ends with %v; want its checkpoint", appended)
	}
	if fi, err := os.Stat(live); err != nil || os.SameFile(fi, heldInfo) {
		t.Fatalf("audit.log is still the file the delete cut from (%v)", err)
	}
	record, err := os.ReadFile(filepath.Join(s.Dir(), rotate.AsideFile))
	if err != nil {
		t.Fatal(err)
	}
	var rotated []sidecartest.Line
	for _, l := range sidecartest.ReadLines(t, s.Dir(), "") {
		if strings.Contains(string(record), `"`+strings.TrimSuffix(l.File, ".gz")+`"`) {
			rotated = append(rotated, l)
		}
	}
	if len(rotated) == 0 {
		t.Fatalf("no line of the dir is in a file listed in %s: %s", rotate.AsideFile, record)
	}
	last := rotated[len(rotated)-1]
	if last.Type != integrity.CheckpointType || !strings.Contains(string(last.Details), `"resealed_by"`) {
		t.Fatalf("the file rotated aside ends with %s %s; want its checkpoint, re-sealed", last.Type, last.Details)
	}
	for _, l := range rotated {
		if l.ID == lines.ID {
			t.Fatal("the event deleted is still in the file rotated aside")
		}
	}
	// The record of the delete is written to the new live file.
	s.WaitLine("the delete record", func(l sidecartest.Line) bool { return l.Type == "system.events.deleted" })
	newLive := sidecartest.ParseLines(t, "audit.log", mustRead(t, live))
	if len(sidecartest.OfType(newLive, "system.events.deleted")) != 1 {
		t.Fatalf("the new live file holds %v; want the delete record", newLive)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyDir(t, s.Dir(), key.Public().(ed25519.PublicKey))
	var table strings.Builder
	rep.WriteTable(&table)
	if err != nil || !rep.Intact {
		t.Fatalf("verify after a delete from the live file: %v\n%s", err, table.String())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
