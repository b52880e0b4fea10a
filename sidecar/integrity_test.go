package sidecar_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/store"
)

// TestAuditedDeleteReseals: a real sidecar under load with rotation and
// compression on, a delete by id and a delete by time range through the
// admin API; verify then says intact, names the rewritten files resealed
// by the two system.events.deleted records, and the records list them.
func TestAuditedDeleteReseals(t *testing.T) {
	s, key := startSealed(t)
	proxy, admin := s.ProxyURL(), s.AdminURL()

	// Load: 4 clients until stopped, paths long enough to rotate often.
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := sidecartest.Client().Post(fmt.Sprintf("%s/api/v3/widgets/%d-%d/%s", proxy, c, i, strings.Repeat("p", 400)), "", nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				sent.Add(1)
			}
		}()
	}
	sidecartest.Eventually(t, "three rotations", func() bool { return len(sidecartest.Files(t, s.Dir())) >= 4 })

	// Delete one event by id from a rotated (compressed) file, under load.
	var victim string
	for _, l := range sidecartest.ReadLines(t, s.Dir(), "audit.log")[10:] {
		if l.Type == "http" {
			victim = l.ID
			break
		}
	}
	if code, _, body := sidecartest.Do(t, "DELETE", admin+"/api/v3/events/"+victim, ""); code != 200 || !strings.Contains(body, `"deleted":1`) {
		t.Fatalf("delete by id: %d %s", code, body)
	}
	sidecartest.Eventually(t, "two more rotations", func() bool { return len(sidecartest.Files(t, s.Dir())) >= 6 })
	// Delete a time range that spans files, still under load.
	lines := sidecartest.ReadLines(t, s.Dir(), "audit.log")
	since, before := lines[len(lines)/3].Time, lines[len(lines)/2].Time
	code, _, body := sidecartest.Do(t, "DELETE", admin+"/api/v3/events?since="+since.Format(time.RFC3339Nano)+"&before="+before.Format(time.RFC3339Nano), "")
	if code != 200 {
		t.Fatalf("delete by time: %d %s", code, body)
	}
	var res struct{ Deleted int }
	json.Unmarshal([]byte(body), &res)
	if res.Deleted < 100 {
		t.Fatalf("deleted %d: want a range across files", res.Deleted)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	rep, err := verifyDir(t, s.Dir(), key.Public().(ed25519.PublicKey))
	var table strings.Builder
	rep.WriteTable(&table)
	if err != nil || !rep.Intact {
		t.Fatalf("after two audited deletes: %v\n%s", err, table.String())
	}
	records := map[string]sidecartest.Line{}
	for _, l := range sidecartest.OfType(sidecartest.ReadLines(t, s.Dir(), "audit.log"), "system.events.deleted") {
		records[l.ID] = l
	}
	if len(records) != 2 {
		t.Fatalf("%d delete records", len(records))
	}
	resealedBy := map[string]int{}
	for _, f := range rep.Files {
		switch f.Status {
		case integrity.StatusOK:
		case integrity.StatusResealed:
			id := strings.TrimPrefix(f.Detail, "by ")
			if _, ok := records[id]; !ok {
				t.Errorf("%s resealed by %q: not a delete record", f.Name, id)
			}
			resealedBy[id]++
		default:
			t.Errorf("%+v", f)
		}
	}
	if len(resealedBy) != 2 {
		t.Fatalf("resealed by %v; want both deletes\n%s", resealedBy, table.String())
	}
	for id, l := range records {
		var d struct {
			Count int
			Files []struct{ File, OldChain, NewChain string } `json:"files"`
		}
		json.Unmarshal(l.Details, &d)
		if len(d.Files) == 0 || d.Count == 0 {
			t.Errorf("record %s: %s", id, l.Details)
		}
	}
	t.Logf("%d requests; after the deletes:\n%s", sent.Load(), table.String())

}

// TestIntegrityRoute: the token guards it, other methods are 405, and
// with integrity off it says so (404), each answer audited.
func TestIntegrityRoute(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok")
	s := sidecartest.Start(t, cfg)
	url := s.AdminURL() + "/api/v3/integrity"
	if code, _, _ := sidecartest.Do(t, "GET", url, ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _, _ := sidecartest.Do(t, "POST", url, "", "Authorization", "Bearer tok"); code != 405 {
		t.Fatalf("POST: %d", code)
	}
	code, _, body := sidecartest.Do(t, "GET", url, "", "Authorization", "Bearer tok")
	var rep integrity.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || !rep.Intact || rep.KeyID != "" || len(rep.Files) != 1 || !rep.Files[0].Live {
		t.Fatalf("%d %s", code, body)
	}
	for _, status := range []int{401, 405, 200} {
		s.WaitLine(fmt.Sprint("integrity read ", status), func(l sidecartest.Line) bool {
			return l.Action == "trailcar.integrity.read" && l.Res.StatusCode == status
		})
	}

	cfg = sidecartest.Config(t, up.URL)
	cfg.Integrity.Enabled = false
	off := sidecartest.Start(t, cfg)
	if code, _, body := sidecartest.Do(t, "GET", off.AdminURL()+"/api/v3/integrity", ""); code != 404 || !strings.Contains(body, "integrity.enabled") {
		t.Fatalf("integrity off: %d %s", code, body)
	}
}

// TestDeleteWithIntegrityOff: files sealed by an earlier run, a sidecar
// with integrity off: a delete goes ahead (it cannot re-seal, and verify
// says so); only a reader of the files alone (--dir) refuses.
func TestDeleteWithIntegrityOff(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.Config(t, up.URL)
	sealed := sidecartest.Start(t, cfg)
	sidecartest.Do(t, "POST", sealed.ProxyURL()+"/api/v3/widgets", "")
	if err := sealed.Stop(); err != nil {
		t.Fatal(err)
	}
	cfg.Integrity.Enabled = false
	s := sidecartest.Start(t, cfg)
	code, _, body := sidecartest.Do(t, "DELETE", s.AdminURL()+"/api/v3/events?type=http", "")
	if code != 200 || !strings.Contains(body, `"deleted":1`) {
		t.Fatalf("%d %s", code, body)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if rep, err := verifyDir(t, s.Dir(), nil); err != nil || rep.Intact {
		t.Fatalf("verify after an unsealed delete: intact %v, %v", rep.Intact, err)
	}
}

// verifyDir verifies the files of dir as trailcar verify --dir does.
func verifyDir(t *testing.T, dir string, pub ed25519.PublicKey) (integrity.Report, error) {
	t.Helper()
	files, err := store.New(store.Options{Dir: dir}).Snapshot()
	if err != nil {
		return integrity.Report{}, err
	}
	defer files.Close()
	return integrity.Verify(context.Background(), files, pub)
}

// startSealed starts a real sidecar that signs its checkpoints with a new
// key (every second at most), rotating at 1 MiB with compression, in front
// of an app that answers 201.
func startSealed(t *testing.T) (*sidecartest.Sidecar, ed25519.PrivateKey) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _, err := integrity.EncodeKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "trail.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB, cfg.ActivityTracker.Compress = 1, true
	cfg.Integrity.KeyFile, cfg.Integrity.Interval = keyFile, time.Second
	return sidecartest.Start(t, cfg), key
}
