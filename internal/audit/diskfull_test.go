package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/metrics"
)

// TestRealDiskRefusal makes the kernel refuse writes part-way (RLIMIT_FSIZE,
// which fails write(2) with EFBIG once the file would grow past the limit,
// after a short write), then lifts the limit: every event must end up
// written exactly once, with no torn line. It runs in a child process,
// because the limit applies to the whole process.
func TestRealDiskRefusal(t *testing.T) {
	if os.Getenv("TRAILCAR_DISKFULL_DIR") != "" {
		diskFullChild(t, os.Getenv("TRAILCAR_DISKFULL_DIR"))
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealDiskRefusal$", "-test.v")
	cmd.Env = append(os.Environ(), "TRAILCAR_DISKFULL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	events := readEvents(t, dir) // fails on any torn or invalid line
	types := map[string]int{}
	for _, e := range events {
		types[e.Type]++
	}
	if types["http"] != 2000 || types["system.audit.write_failed"] != 1 || types["system.audit.write_recovered"] != 1 {
		t.Fatalf("written types %v\nchild output:\n%s", types, out)
	}
}

func diskFullChild(t *testing.T, dir string) {
	signal.Ignore(syscall.SIGXFSZ)
	f := openFile(t, dir)
	defer f.Close()
	w := audit.New(audit.Options{File: f, Metrics: metrics.Discard(), RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limited := old
	limited.Cur = 100 << 10 // the file may grow to 100 KiB; 2000 events need ~600 KiB
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Skipf("cannot set RLIMIT_FSIZE: %v", err)
	}
	for i := 0; i < 2000; i++ {
		if err := w.Emit(httpEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Healthy() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w.Healthy() {
		t.Fatal("writer never saw the write error")
	}
	time.Sleep(50 * time.Millisecond) // a few failed retries
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedWhileWritesFail: the live file is deleted from outside while
// the disk refuses writes (the file is closed after a failed write, so the
// per-write check does not run): the deletion must still be recorded, and
// every event not in the deleted file must be written once.
func TestDeletedWhileWritesFail(t *testing.T) {
	if dir := os.Getenv("TRAILCAR_DELETED_DIR"); dir != "" {
		deletedChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeletedWhileWritesFail$", "-test.v")
	cmd.Env = append(os.Environ(), "TRAILCAR_DELETED_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// The child's copy of the deleted file may hold lines of a chunk whose
	// write was failing at that moment (a short write, cut back after it):
	// those are written again into the new file. So the check is by event:
	// each one is in the new files at most once, and every one is either
	// there or was in the deleted file.
	i := bytes.Index(out, []byte("deleted-paths="))
	if i < 0 {
		t.Fatalf("child output:\n%s", out)
	}
	line, _, _ := bytes.Cut(out[i+len("deleted-paths="):], []byte("\n"))
	inDeleted := map[string]bool{}
	for _, p := range bytes.Fields(line) {
		inDeleted[string(p)] = true
	}
	types := map[string]int{}
	written := map[string]int{}
	for _, e := range readEvents(t, dir) {
		types[e.Type]++
		if e.Type == "system.audit.file_replaced" && !bytes.Contains(e.Details, []byte(`"reason":"deleted"`)) {
			t.Errorf("file_replaced %s", e.Details)
		}
		if e.Type == "http" {
			written[e.Req.Path]++
		}
	}
	if types["system.audit.file_replaced"] != 1 {
		t.Fatalf("written types %v\n%s", types, out)
	}
	for n := 0; n < 2000; n++ {
		p := fmt.Sprintf("/api/v3/widgets/%d", n)
		switch {
		case written[p] > 1:
			t.Errorf("%s written %d times", p, written[p])
		case written[p] == 0 && !inDeleted[p]:
			t.Errorf("%s lost: neither written nor in the deleted file", p)
		}
	}
	if len(inDeleted) < 100 || types["http"] < 2000-len(inDeleted) {
		t.Fatalf("written types %v, %d lines were in the deleted file\n%s", types, len(inDeleted), out)
	}
}

func deletedChild(t *testing.T, dir string) {
	signal.Ignore(syscall.SIGXFSZ)
	f := openFile(t, dir)
	defer f.Close()
	w := audit.New(audit.Options{File: f, Metrics: metrics.Discard(), RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ { // these are in the file that is deleted
		if err := w.Emit(httpEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	for w.QueueLen() > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	limited := old
	limited.Cur = 100 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Skipf("cannot set RLIMIT_FSIZE: %v", err)
	}
	for i := 100; i < 2000; i++ {
		if err := w.Emit(httpEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); w.Healthy() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if w.Healthy() {
		t.Fatal("writer never saw the write error")
	}
	data, err := os.ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range bytes.Split(data, []byte("\n")) {
		var e struct {
			Type string `json:"type"`
			Req  struct {
				Path string `json:"path"`
			} `json:"req"`
		}
		if json.Unmarshal(l, &e) == nil && e.Type == "http" {
			paths = append(paths, e.Req.Path)
		}
	}
	fmt.Printf("deleted-paths=%s\n", strings.Join(paths, " "))
	if err := os.Remove(f.Path()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // failed retries, and the watch
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
