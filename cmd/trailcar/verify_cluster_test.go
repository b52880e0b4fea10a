package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// TestVerifyCluster: verify --server on a pod of a three-pod cluster
// checks every pod, one line per {host}/{file}: intact (exit 0); a pod
// whose files were edited is tampering (exit 1, naming that pod's file);
// a pod that does not answer makes the verdict partial (exit 3, that pod
// only, the others still checked); --local checks the one pod.
func TestVerifyCluster(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	const n = 3
	addrs := make([]string, n)
	var peers []string
	for i := range addrs {
		addrs[i] = sidecartest.FreeAddr(t)
		peers = append(peers, "http://"+addrs[i])
	}
	cfgs := make([]sidecar.Config, n)
	pods := make([]*sidecartest.Sidecar, n)
	for i := range n {
		cfg := sidecartest.Config(t, up.URL)
		cfg.Host = fmt.Sprintf("pod-%d", i)
		cfg.Admin.Listen = addrs[i]
		cfg.Cluster.Peers = peers
		cfg.Cluster.Timeout = 2 * time.Second
		cfg.Integrity.Interval = time.Second
		cfgs[i] = sidecartest.WithToken(t, cfg, "tok")
		pods[i] = sidecartest.Start(t, cfgs[i])
		for j := range 20 {
			sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d", pods[i].ProxyURL(), j), "")
		}
	}
	for _, p := range pods {
		sidecartest.Eventually(t, "a checkpoint", func() bool { return len(sidecartest.OfType(p.Lines(), integrity.CheckpointType)) > 0 })
	}
	tokenFile := cfgs[0].Admin.TokenFile
	verify := func(args ...string) (int, string) {
		code, out, errOut := evRun(t, "", append([]string{"verify", "--server", pods[0].AdminURL(), "--token-file", tokenFile}, args...)...)
		return code, out + errOut
	}

	code, out := verify()
	if code != 0 || !strings.Contains(out, "intact: 3 pods") {
		t.Fatalf("every pod intact: exit %d\n%s", code, out)
	}
	for i := range n {
		if !strings.Contains(out, fmt.Sprintf("pod-%d/audit.log ", i)) {
			t.Errorf("no line for pod-%d/audit.log:\n%s", i, out)
		}
	}
	code, out = verify("-o", "json")
	var all integrity.ClusterReport
	if code != 0 || json.Unmarshal([]byte(out), &all) != nil || len(all.Pods) != n || !all.Intact || all.Partial {
		t.Fatalf("-o json: exit %d\n%s", code, out)
	}
	code, out = verify("--local")
	if code != 0 || strings.Contains(out, "pod-") || !strings.Contains(out, "audit.log") {
		t.Fatalf("--local: exit %d\n%s", code, out)
	}

	// pod-1's sealed lines edited while it was down, then started again.
	if err := pods[1].Stop(); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(cfgs[1].ActivityTracker.Dir, "audit.log")
	data := mustRead(t, live)
	edited := strings.Replace(string(data), "/api/v3/widgets/7\"", "/api/v3/widgets/8\"", 1)
	if edited == string(data) {
		t.Fatal("nothing to edit")
	}
	os.WriteFile(live, []byte(edited), 0o640)
	pods[1] = sidecartest.Start(t, cfgs[1])
	code, out = verify()
	if code != 1 || !strings.Contains(out, "pod-1/audit.log") || !strings.Contains(out, "broken") || !strings.Contains(out, "TAMPERED") {
		t.Fatalf("pod-1 edited: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "pod-0/audit.log  broken") || strings.Contains(out, "pod-2/audit.log  broken") {
		t.Fatalf("another pod blamed:\n%s", out)
	}

	// pod-2 down, pod-1 fixed by going back to what it was: partial.
	for _, i := range []int{1, 2} {
		if err := pods[i].Stop(); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(live, data, 0o640)
	pods[1] = sidecartest.Start(t, cfgs[1])
	code, out = verify()
	if code != 3 || !strings.Contains(out, "http://"+addrs[2]+"/  unreachable") || !strings.Contains(out, "partial: 1 of 3 pods did not answer") ||
		!strings.Contains(out, "pod-1/audit.log ") {
		t.Fatalf("pod-2 down: exit %d\n%s", code, out)
	}
}
