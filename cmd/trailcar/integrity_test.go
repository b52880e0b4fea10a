package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "trail.key")
	code, out, errOut := evRun(t, "", "keygen", "--out", key)
	if code != 0 || !strings.Contains(out, "key id ") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for path, mode := range map[string]os.FileMode{key: 0o600, key + ".pub": 0o644} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v; want mode %v", path, fi.Mode(), err, mode)
		}
	}
	priv, err := integrity.LoadPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := integrity.LoadPublicKey(key + ".pub")
	if err != nil || !pub.Equal(priv.Public()) {
		t.Fatalf("public key %v: not the private key's", err)
	}
	before, _ := os.ReadFile(key)
	if code, _, errOut := evRun(t, "", "keygen", "--out", key); code != 2 || !strings.Contains(errOut, "--force") {
		t.Fatalf("overwrite without --force: exit %d %s", code, errOut)
	}
	if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
		t.Fatal("the key was overwritten without --force")
	}
	if code, _, errOut := evRun(t, "", "keygen", "--out", key, "--force"); code != 0 {
		t.Fatalf("--force: exit %d %s", code, errOut)
	}
	if after, _ := os.ReadFile(key); bytes.Equal(before, after) {
		t.Fatal("--force kept the old key")
	}
	if code, _, _ := evRun(t, "", "keygen"); code != 2 {
		t.Fatalf("no --out: exit %d", code)
	}
}

// TestVerifyCommand: a real sidecar signs with a key from keygen; verify
// with --dir and --server, tampering, the wrong key, and what cannot be
// checked, each with its exit code; a --dir delete on sealed files is
// refused.
func TestVerifyCommand(t *testing.T) {
	keys := t.TempDir()
	key, other := filepath.Join(keys, "trail.key"), filepath.Join(keys, "other.key")
	for _, k := range []string{key, other} {
		if code, _, errOut := evRun(t, "", "keygen", "--out", k); code != 0 {
			t.Fatal(errOut)
		}
	}
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok-1")
	cfg.Integrity.KeyFile, cfg.Integrity.Interval = key, time.Second
	tokenFile := cfg.Admin.TokenFile
	sc := sidecartest.Start(t, cfg)
	for range 50 {
		sidecartest.Do(t, "POST", sc.ProxyURL()+"/api/v3/widgets", "")
	}
	sidecartest.Eventually(t, "a checkpoint", func() bool { return len(sidecartest.OfType(sc.Lines(), integrity.CheckpointType)) > 0 })

	// Against the running sidecar.
	code, out, errOut := evRun(t, "", "verify", "--server", sc.AdminURL(), "--token-file", tokenFile, "--public-key", key+".pub", "-o", "json")
	var rep integrity.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Intact || len(rep.Files) != 1 || rep.Files[0].Name != "audit.log" {
		t.Fatalf("--server: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := evRun(t, "", "verify", "--server", sc.AdminURL(), "--token-file", tokenFile, "--public-key", other+".pub"); code != 1 || !strings.Contains(errOut, "signs with key") {
		t.Fatalf("--server, another key: exit %d %s", code, errOut)
	}
	if code, _, errOut := evRun(t, "", "verify", "--server", sc.AdminURL()); code != 3 || !strings.Contains(errOut, "401") {
		t.Fatalf("--server without the token: exit %d %s", code, errOut)
	}
	if code, _, errOut := evRun(t, "", "verify", "--server", "http://"+sidecartest.DeadAddr(t)); code != 3 {
		t.Fatalf("--server down: exit %d %s", code, errOut)
	}
	read := sc.WaitLine("the integrity read audited", func(l sidecartest.Line) bool {
		return l.Action == "trailcar.integrity.read" && l.Res.StatusCode == 200
	})
	if read.Req.Path != "/api/v3/integrity" {
		t.Fatalf("%+v", read)
	}

	// A delete straight from sealed files is refused: it could not
	// re-seal them or record itself.
	dir := sc.Dir()
	if code, _, errOut := evRun(t, "", "events", "delete", "--all", "--yes", "--dir", dir); code != 1 || !strings.Contains(errOut, "--server") {
		t.Fatalf("--dir delete on sealed files: exit %d %s", code, errOut)
	}
	if err := sc.Stop(); err != nil {
		t.Fatal(err)
	}

	// The files, after a clean stop.
	code, out, errOut = evRun(t, "", "verify", "--dir", dir, "--public-key", key+".pub")
	if code != 0 || !strings.Contains(out, "audit.log  ok") || !strings.Contains(out, "intact, signed by key ") {
		t.Fatalf("--dir: exit %d: %s%s", code, out, errOut)
	}
	if code, out, _ := evRun(t, "", "verify", "--dir", dir, "--public-key", other+".pub"); code != 1 || !strings.Contains(out, "bad-signature") {
		t.Fatalf("--dir, another key: exit %d %s", code, out)
	}
	live := filepath.Join(dir, "audit.log")
	data, _ := os.ReadFile(live)
	os.WriteFile(live, bytes.Replace(data, []byte("/api/v3/widgets"), []byte("/api/v3/widgetz"), 1), 0o600)
	if code, out, _ := evRun(t, "", "verify", "--dir", dir); code != 1 || !strings.Contains(out, "broken") || !strings.Contains(out, "TAMPERED") {
		t.Fatalf("--dir, a byte changed: exit %d %s", code, out)
	}
	for _, args := range [][]string{
		{"verify", "--dir", filepath.Join(dir, "nope")},
		{"verify", "--dir", dir, "--server", "http://127.0.0.1:1"},
		{"verify", "--dir", dir, "-o", "yaml"},
		{"verify", "--dir", dir, "--public-key", tokenFile},
	} {
		if code, _, errOut := evRun(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d %s; want 2", args, code, errOut)
		}
	}
}
