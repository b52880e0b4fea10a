package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestHashMatchesTheSidecar: a real sidecar writes the creds.uuid of an
// opaque token and of an API key, on the proxy port and the admin port;
// trailcar hash with the same config prints the same uuids, with
// identity.hmac_key_file and without it, and the keyed ones differ from
// the bare ones.
func TestHashMatchesTheSidecar(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "hmac.key")
	if err := os.WriteFile(keyFile, []byte("c2VjcmV0LWtleS1mb3ItdGhlLXRyYWls\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const token, apiKey = "opaque-token-8f2c", "weak-key"
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	uuids := map[string]map[string]string{} // "keyed"/"bare" -> value -> uuid
	for _, mode := range []string{"keyed", "bare"} {
		cfg := sidecartest.Config(t, up.URL)
		yamlCfg := "service: console\n"
		if mode == "keyed" {
			cfg.Identity.HMACKeyFile = keyFile
			yamlCfg += "identity:\n  hmac_key_file: " + keyFile + "\n"
		}
		cfgFile := filepath.Join(dir, mode+".yaml")
		if err := os.WriteFile(cfgFile, []byte(yamlCfg), 0o600); err != nil {
			t.Fatal(err)
		}
		s := sidecartest.Start(t, cfg)
		sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets/token", "", "Authorization", "Bearer "+token)
		sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets/key", "", "X-API-Key", apiKey)
		sidecartest.Do(t, "GET", s.AdminURL()+"/api/v3/events?limit=1", "", "X-API-Key", apiKey)
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		written := map[string]string{}
		for _, l := range s.Lines() {
			switch {
			case l.Req.Path == "/api/v3/widgets/token":
				written["token"] = l.Creds.UUID
			case l.Req.Path == "/api/v3/widgets/key":
				written["key"] = l.Creds.UUID
			case l.Action == "trailcar.events.read":
				written["admin key"] = l.Creds.UUID
			}
		}
		printed := map[string]string{}
		for name, v := range map[string]string{"token": token, "key": apiKey} {
			code, out, errOut := evRun(t, "", "hash", v, "--config", cfgFile)
			if code != 0 || len(out) != 13 {
				t.Fatalf("%s hash %s: exit %d %q %s", mode, v, code, out, errOut)
			}
			printed[name] = strings.TrimSpace(out)
		}
		if written["token"] != printed["token"] || written["key"] != printed["key"] || written["admin key"] != printed["key"] {
			t.Fatalf("%s: the sidecar wrote %v, trailcar hash printed %v", mode, written, printed)
		}
		uuids[mode] = printed
	}
	if uuids["keyed"]["token"] == uuids["bare"]["token"] || uuids["keyed"]["key"] == uuids["bare"]["key"] {
		t.Fatalf("keyed and bare uuids agree: %v", uuids)
	}
	// $TRAILCAR_CONFIG is read as by serve.
	t.Setenv("TRAILCAR_CONFIG", filepath.Join(dir, "keyed.yaml"))
	if _, out, _ := evRun(t, "", "hash", apiKey); strings.TrimSpace(out) != uuids["keyed"]["key"] {
		t.Fatalf("from $TRAILCAR_CONFIG: %q", out)
	}
}

// TestHashRefusals: a key too short, a key file missing and bad usage are
// exit 2, naming the key or the argument; serve refuses the same key.
func TestHashRefusals(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("tiny\n"), 0o600)
	cfgFor := func(name, keyFile string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("identity:\n  hmac_key_file: "+keyFile+"\n"), 0o600)
		return p
	}
	shortCfg, missingCfg := cfgFor("short.yaml", short), cfgFor("missing.yaml", filepath.Join(dir, "nope.key"))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"short key", []string{"hash", "v", "--config", shortCfg}, []string{"identity.hmac_key_file", "at least 16 bytes"}},
		{"missing key file", []string{"hash", "v", "--config", missingCfg}, []string{"identity.hmac_key_file", "nope.key"}},
		{"serve with a short key", []string{"serve", "--config", shortCfg, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-dir", dir}, []string{"identity.hmac_key_file"}},
		{"no value", []string{"hash"}, []string{"want one VALUE"}},
		{"empty value", []string{"hash", ""}, []string{"want one VALUE"}},
		{"two values", []string{"hash", "a", "b"}, []string{"want one VALUE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := evRun(t, "", tt.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d %q %s", code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Fatalf("stderr lacks %q: %s", w, errOut)
				}
			}
		})
	}
}
