package sidecar_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/store"
)

// TestDeleteRecordsSurviveDeletes: a real sidecar, signed, rotating and
// compressing; after a delete, every later delete form through the admin
// API (a filter on the records' type, a time range right after the
// record, all, the record's id, the notifications purge) leaves every
// delete record and checkpoint in the trail, and verify still says intact.
func TestDeleteRecordsSurviveDeletes(t *testing.T) {
	s, key := startSealed(t)
	admin := s.AdminURL()

	var wg sync.WaitGroup
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; len(sidecartest.Files(t, s.Dir())) < 4; i++ {
				sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d-%d/%s", s.ProxyURL(), c, i, strings.Repeat("p", 400)), "")
			}
		}()
	}
	wg.Wait()
	sidecartest.Eventually(t, "a compressed file", func() bool {
		for _, f := range sidecartest.Files(t, s.Dir()) {
			if strings.HasSuffix(f, ".gz") {
				return true
			}
		}
		return false
	})

	records := func() []sidecartest.Line {
		return sidecartest.OfType(sidecartest.ReadLines(t, s.Dir(), "audit.log"), integrity.DeletedType)
	}
	deleted := func(query string) int {
		t.Helper()
		code, _, body := sidecartest.Do(t, "DELETE", admin+query, "")
		var d struct{ Deleted int }
		if code != 200 || json.Unmarshal([]byte(body), &d) != nil {
			t.Fatalf("DELETE %s: %d %s", query, code, body)
		}
		return d.Deleted
	}

	var victim string
	for _, l := range sidecartest.ReadLines(t, s.Dir(), "audit.log")[10:] {
		if l.Type == "http" {
			victim = l.ID
			break
		}
	}
	if n := deleted("/api/v3/events/" + victim); n != 1 {
		t.Fatalf("delete by id: %d", n)
	}
	wantRecords := 1
	checkpoints := len(sidecartest.OfType(sidecartest.ReadLines(t, s.Dir(), "audit.log"), integrity.CheckpointType))
	for _, q := range []string{
		"/api/v3/events?type=" + integrity.DeletedType,
		"/api/v3/events?type=system.events.*",
		"/api/v3/events?type=" + integrity.CheckpointType,
		"/api/v3/events?since=1s", // right after the record before it
		"/api/v3/events?type=system.*&since=1m",
		"/api/v3/notifications/purge",
		"/api/v3/events?all=true",
	} {
		n := deleted(q)
		if (strings.Contains(q, "type=system.events") || strings.Contains(q, "type=system.audit")) && n != 0 {
			t.Errorf("DELETE %s: deleted %d, want 0", q, n)
		}
		wantRecords++
		// Eventually: a file being compressed meanwhile is skipped by
		// the read.
		sidecartest.Eventually(t, fmt.Sprintf("%d delete records after DELETE %s", wantRecords, q), func() bool {
			return len(records()) == wantRecords
		})
		if got := len(sidecartest.OfType(sidecartest.ReadLines(t, s.Dir(), "audit.log"), integrity.CheckpointType)); got < checkpoints {
			t.Fatalf("after DELETE %s: %d checkpoints, had %d", q, got, checkpoints)
		}
	}
	// By id: 403, nothing deleted, nothing recorded.
	first := records()[0]
	code, _, body := sidecartest.Do(t, "DELETE", admin+"/api/v3/events/"+first.ID, "")
	if code != 403 || !strings.Contains(body, `"protected":"system.events.deleted"`) {
		t.Fatalf("delete a record by id: %d %s", code, body)
	}
	cp := sidecartest.OfType(sidecartest.ReadLines(t, s.Dir(), "audit.log"), integrity.CheckpointType)[0]
	if code, _, body := sidecartest.Do(t, "DELETE", admin+"/api/v3/events/"+cp.ID, ""); code != 403 {
		t.Fatalf("delete a checkpoint by id: %d %s", code, body)
	}
	if got := records(); len(got) != wantRecords || got[0].ID != first.ID || !strings.Contains(got[0].Message, "1 events deleted") {
		t.Fatalf("%d records after the refused deletes, the first %+v", len(got), got[0])
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyDir(t, s.Dir(), key.Public().(ed25519.PublicKey))
	var table strings.Builder
	rep.WriteTable(&table)
	if err != nil || !rep.Intact {
		t.Fatalf("after the deletes: %v\n%s", err, table.String())
	}
}

// TestClusterDeleteOfARecordRefused: a delete record on one pod, deleted
// by id through another pod's cluster delete: 403 naming it, as on its own
// pod; a cluster delete by its type deletes nothing on any pod.
func TestClusterDeleteOfARecordRefused(t *testing.T) {
	pods := startCluster(t, 2, "")
	for range 3 {
		sidecartest.Do(t, "POST", pods[1].ProxyURL()+"/api/v3/widgets", "")
	}
	victim := pods[1].WaitLine("an http event", func(l sidecartest.Line) bool { return l.Type == "http" })
	if code, _, body := sidecartest.Do(t, "DELETE", pods[1].AdminURL()+"/api/v3/events/"+victim.ID+"?scope=local", ""); code != 200 {
		t.Fatalf("delete on pod-1: %d %s", code, body)
	}
	rec := pods[1].WaitLine("the delete record", func(l sidecartest.Line) bool { return l.Type == integrity.DeletedType })
	code, _, body := sidecartest.Do(t, "DELETE", pods[0].AdminURL()+"/api/v3/events/"+rec.ID, "")
	if code != 403 || !strings.Contains(body, rec.ID) || !strings.Contains(body, `"protected":"system.events.deleted"`) {
		t.Fatalf("cluster delete of pod-1's record through pod-0: %d %s", code, body)
	}
	code, _, body = sidecartest.Do(t, "DELETE", pods[0].AdminURL()+"/api/v3/events?type=system.events.deleted", "")
	var d clusterDeleted
	if code != 200 || json.Unmarshal([]byte(body), &d) != nil || d.Deleted != 0 || d.Partial {
		t.Fatalf("cluster delete by type: %d %s", code, body)
	}
	// pod-1 keeps the first record, and records its part of the cluster
	// delete beside it.
	sidecartest.Eventually(t, "pod-1's record of its part of the cluster delete", func() bool {
		return len(sidecartest.OfType(pods[1].Lines(), integrity.DeletedType)) == 2
	})
	if got := pods[1].WaitLine("the first record", func(l sidecartest.Line) bool { return l.ID == rec.ID }); got.Type != integrity.DeletedType {
		t.Fatalf("%+v", got)
	}
}

type clusterDeleted struct {
	Deleted int
	Partial bool
}

// TestTwoDeletesOfOneFile: two audited deletes that each rewrite only the
// oldest file leave the next file chained from that file's first end;
// verify follows the records back through both and says intact.
func TestTwoDeletesOfOneFile(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB = 1
	s := sidecartest.Start(t, cfg)
	for i := 0; len(sidecartest.Files(t, s.Dir())) < 3; i++ {
		sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d/%s", s.ProxyURL(), i, strings.Repeat("p", 400)), "")
	}
	lines := sidecartest.ReadLines(t, s.Dir(), "audit.log")
	oldest := lines[0].File
	var victims []string
	for _, l := range lines {
		if l.File == oldest && l.Type == "http" && len(victims) < 2 {
			victims = append(victims, l.ID)
		}
	}
	// A witness of the checkpoints as they were before the deletes: a
	// webhook receiver's file, one envelope a line.
	var witness strings.Builder
	for _, l := range sidecartest.OfType(lines, integrity.CheckpointType) {
		fmt.Fprintf(&witness, `{"notification_type":"event_log","event":%s}`+"\n", l.Raw)
	}
	for _, id := range victims {
		if code, _, body := sidecartest.Do(t, "DELETE", s.AdminURL()+"/api/v3/events/"+id, ""); code != 200 {
			t.Fatalf("delete %s: %d %s", id, code, body)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyDir(t, s.Dir(), nil)
	var table strings.Builder
	rep.WriteTable(&table)
	if err != nil || !rep.Intact || rep.Files[0].Status != integrity.StatusResealed || rep.Files[1].Status != integrity.StatusOK {
		t.Fatalf("after two deletes in %s: %v\n%s", oldest, err, table.String())
	}
	// Against the witness: the re-sealed checkpoints are matched through
	// both records' per-checkpoint chains.
	w, err := integrity.ReadWitness(strings.NewReader(witness.String()))
	if err != nil {
		t.Fatal(err)
	}
	files, err := store.New(store.Options{Dir: s.Dir()}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	rep, err = integrity.VerifyWith(context.Background(), files, nil, integrity.Options{Witness: w})
	table.Reset()
	rep.WriteTable(&table)
	if err != nil || !rep.Intact || rep.Witness.Checkpoints < 2 || rep.Files[0].Status != integrity.StatusResealed {
		t.Fatalf("against the witness: %v\n%s", err, table.String())
	}
}
