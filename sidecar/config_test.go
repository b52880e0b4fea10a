package sidecar_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/webhook"
	"github.com/trailcar/trailcar/rules"
	"github.com/trailcar/trailcar/sidecar"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := sidecar.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Host == "" {
		t.Error("Validate did not fill host with the hostname")
	}
	parsed, err := sidecar.ParseConfig(strings.NewReader(""))
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if !reflect.DeepEqual(parsed, cfg) {
		t.Errorf("an empty file is not the defaults:\n%+v\n%+v", parsed, cfg)
	}
}

// everyKey sets every key of README "Configuration" to something else than its default.
const everyKey = `
listen: "127.0.0.1:18080"
upstream: "https://app.internal:8443/base"
service: explorer
host: node-1
trust_proxy: [loopback, 192.0.2.0/24, 2001:db8::1]
request_id_header: X-Correlation-Id
admin:
  listen: "0.0.0.0:19090"
  token_file: /run/secrets/token
  allow_delete: false
activity_tracker:
  enabled: false
  dir: /var/log/trailcar
  filename: trail.log
  max_size_mb: 7
  max_files: 9
  max_age_days: 30
  compress: true
  file_mode: "0600"
  queue: 123
  when_full: drop
  on_write_error: fail_closed
  track:
    methods: [POST, GET]
    always: ["/admin/**"]
    statuses: [500]
  ignore_routes: ["/healthz"]
  actions:
    - { path: "/login", action: app.users.login, level: info }
    - { path: "/api/**", methods: [DELETE], action: app.removed }
  action_template: "{service}.{segment}.{verb}"
  log_query: true
  redact_query: [sig]
client_events:
  enabled: false
  path: "/events/*/*"
webhooks:
  enabled: true
  levels: [error]
  types: ["system.*"]
  endpoints:
    event_log: { url: "https://hooks.example.com/<notification_type>", user: u, password_file: /run/pw, tls_verify: false, headers: { X-Team: audit } }
    general: { url: "https://general.example.com/" }
  timeout: 5s
  retry_for: 1m
  queue: 50
`

func TestParseConfigEveryKey(t *testing.T) {
	got, err := sidecar.ParseConfig(strings.NewReader(everyKey))
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := sidecar.DefaultConfig()
	want.Listen = "127.0.0.1:18080"
	want.Upstream = "https://app.internal:8443/base"
	want.Service = "explorer"
	want.Host = "node-1"
	want.TrustProxy = []string{"loopback", "192.0.2.0/24", "2001:db8::1"}
	want.RequestIDHeader = "X-Correlation-Id"
	want.Admin = sidecar.AdminConfig{Listen: "0.0.0.0:19090", TokenFile: "/run/secrets/token", AllowDelete: false}
	at := &want.ActivityTracker
	at.Enabled = false
	at.Dir = "/var/log/trailcar"
	at.Filename = "trail.log"
	at.MaxSizeMB, at.MaxFiles, at.MaxAgeDays = 7, 9, 30
	at.Compress = true
	at.FileMode = "0600"
	at.Queue = 123
	at.WhenFull, at.OnWriteError = "drop", "fail_closed"
	at.Track = sidecar.TrackConfig{Methods: []string{"POST", "GET"}, Always: []string{"/admin/**"}, Statuses: []int{500}}
	at.IgnoreRoutes = []string{"/healthz"}
	at.Actions = []rules.ActionRule{
		{Path: "/login", Action: "app.users.login", Level: "info"},
		{Path: "/api/**", Methods: []string{"DELETE"}, Action: "app.removed"},
	}
	at.ActionTemplate = "{service}.{segment}.{verb}"
	at.LogQuery = true
	at.RedactQuery = []string{"sig"}
	want.ClientEvents.Enabled = false
	want.ClientEvents.Path = "/events/*/*"
	want.Webhooks = webhook.Config{
		Enabled: true, Levels: []string{"error"}, Types: []string{"system.*"},
		Endpoints: webhook.Endpoints{
			EventLog: webhook.Endpoint{URL: "https://hooks.example.com/<notification_type>", User: "u",
				PasswordFile: "/run/pw", TLSVerify: &no, Headers: map[string]string{"X-Team": "audit"}},
			General: webhook.Endpoint{URL: "https://general.example.com/"},
		},
		Timeout: 5 * time.Second, RetryFor: time.Minute, Queue: 50,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	mode, err := got.ActivityTracker.Mode()
	if err != nil || mode != 0o600 {
		t.Errorf("Mode() = %v, %v", mode, err)
	}
}

// TestParseConfigErrors: every fixture under testdata/config is a bad
// config; want.txt is the whole error, which names the key and its line.
func TestParseConfigErrors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/config/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = sidecar.ParseConfig(bytes.NewReader(data))
			var ce *sidecar.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *ConfigError", err, err)
			}
			if ce.Key == "" || ce.Key == "?" || ce.Line < 1 {
				t.Errorf("ConfigError %+v: want a key and a line", ce)
			}
			if got := err.Error(); got != strings.TrimSpace(string(want)) {
				t.Errorf("error\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("service: explorer\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("service: explorer\nlisen: x\n"), 0o600)
	tests := []struct {
		name    string
		path    string
		wantErr string // substring; "" for none
	}{
		{"defaults", "", ""},
		{"file", good, ""},
		{"bad file names the file, key and line", bad, bad + ": config: lisen (line 2)"},
		{"missing file", filepath.Join(dir, "nope.yaml"), "config: --config: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := sidecar.LoadConfig(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.path == good && cfg.Service != "explorer" {
					t.Errorf("service %q", cfg.Service)
				}
				return
			}
			var ce *sidecar.ConfigError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ConfigError containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestConfigRoundTrip: the effective config printed as YAML (config check)
// parses back to itself.
func TestConfigRoundTrip(t *testing.T) {
	for _, src := range []string{"", everyKey} {
		cfg, err := sidecar.ParseConfig(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := sidecar.ParseConfig(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("printed config does not parse: %v\n%s", err, out)
		}
		again, err := yaml.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, out) {
			t.Errorf("round trip changed the config:\n%s\n---\n%s", out, again)
		}
	}
}

// FuzzParseConfig: ParseConfig never panics; it either returns a config
// that validates or a *ConfigError naming a key.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(everyKey))
	f.Add([]byte(""))
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte("activity_tracker: {track: {always: ['/a/[']}}\n"))
	fixtures, _ := filepath.Glob("testdata/config/*/config.yaml")
	for _, path := range fixtures {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := sidecar.ParseConfig(bytes.NewReader(data))
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("ParseConfig accepted a config that does not validate: %v", verr)
			}
			return
		}
		var ce *sidecar.ConfigError
		if !errors.As(err, &ce) || ce.Key == "" {
			t.Fatalf("error %v (%T): want a *ConfigError with a key", err, err)
		}
	})
}
