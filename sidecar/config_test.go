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

	"github.com/trailcar/trailcar/internal/ship"
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

// everyKey sets every key of docs/configuration.md "Keys and defaults" to something else than its default.
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
  delete_token_file: /run/secrets/delete-token
  allow_delete: false
  allowed_hosts: [trailcar.console.svc]
  insecure: true
  max_streams: 16
  max_queries: 3
console_logs:
  enabled: true
  auth_path: /auth/can-read-logs
identity:
  hmac_key_file: /run/secrets/hmac
activity_tracker:
  enabled: false
  dir: /var/log/trailcar
  filename: trail.log
  max_size_mb: 7
  max_files: 9
  max_age_days: 30
  compress: true
  file_mode: "0600"
  rotate_every: 24h
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
  batch: { max_events: 100, max_wait: 250ms }
ship:
  enabled: false
  url: "http://victorialogs:9428/insert/elasticsearch?_msg_field=message"
  protocol: otlp
  index: audit
  headers: { AccountID: "12" }
  user: shipper
  password_file: /run/secrets/ship-pw
  ca_file: ""
  tls_verify: false
  batch: { max_lines: 500, max_bytes: 256KiB, max_wait: 2s }
  timeout: 30s
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
	want.Admin = sidecar.AdminConfig{Listen: "0.0.0.0:19090", TokenFile: "/run/secrets/token", DeleteTokenFile: "/run/secrets/delete-token",
		AllowDelete: false, AllowedHosts: []string{"trailcar.console.svc"}, Insecure: true, MaxStreams: 16, MaxQueries: 3}
	want.ConsoleLogs = sidecar.ConsoleLogsConfig{Enabled: true, AuthPath: "/auth/can-read-logs"}
	want.Identity.HMACKeyFile = "/run/secrets/hmac"
	at := &want.ActivityTracker
	at.Enabled = false
	at.Dir = "/var/log/trailcar"
	at.Filename = "trail.log"
	at.MaxSizeMB, at.MaxFiles, at.MaxAgeDays = 7, 9, 30
	at.Compress = true
	at.FileMode = "0600"
	at.RotateEvery = 24 * time.Hour
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
		Batch: webhook.Batch{MaxEvents: 100, MaxWait: 250 * time.Millisecond},
	}
	want.Ship = ship.Config{
		URL: "http://victorialogs:9428/insert/elasticsearch?_msg_field=message", Protocol: "otlp", Index: "audit",
		Headers: map[string]string{"AccountID": "12"}, User: "shipper", PasswordFile: "/run/secrets/ship-pw",
		Batch:   ship.BatchConfig{MaxLines: 500, MaxBytes: 256 << 10, MaxWait: 2 * time.Second},
		Timeout: 30 * time.Second,
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
			if !errors.Is(err, sidecar.ErrInvalidConfig) {
				t.Fatalf("error %v (%T), want an ErrInvalidConfig", err, err)
			}
			var ce *sidecar.ConfigError
			var se *sidecar.SyntaxError
			switch {
			case errors.As(err, &ce):
				if ce.Key == "" || ce.Line < 1 {
					t.Errorf("ConfigError %+v: want a key and a line", ce)
				}
			case !errors.As(err, &se):
				t.Fatalf("error %v (%T), want a *ConfigError or a *SyntaxError", err, err)
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
// that validates, a *ConfigError naming a key, or a *SyntaxError.
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
		var se *sidecar.SyntaxError
		if !errors.As(err, &se) && (!errors.As(err, &ce) || ce.Key == "") {
			t.Fatalf("error %v (%T): want a *ConfigError with a key, or a *SyntaxError", err, err)
		}
	})
}

// TestDecodeWebhooks: the webhooks section decodes strictly too, and
// event_update is another name for event_log (not both).
func TestDecodeWebhooks(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantURL string // Endpoints.EventLog.URL
		wantErr string // the whole error
	}{
		{"event_log", "webhooks:\n  endpoints:\n    event_log: {url: http://a/}\n", "http://a/", ""},
		{"event_update is event_log", "webhooks:\n  endpoints:\n    event_update:\n      url: http://b/\n", "http://b/", ""},
		{"both", "webhooks:\n  endpoints:\n    event_log: {url: http://a/}\n    event_update: {url: http://b/}\n",
			"", "config: webhooks.endpoints.event_update (line 4): set twice (first at line 3)"},
		{"unknown endpoint key", "webhooks:\n  endpoints:\n    event_log:\n      url: http://a/\n      pasword_file: /x\n",
			"", `config: webhooks.endpoints.event_log.pasword_file (line 5): unknown key "pasword_file"`},
		{"unknown endpoint", "webhooks:\n  endpoints:\n    events: {url: http://a/}\n",
			"", `config: webhooks.endpoints.events (line 3): unknown key "events"`},
		{"unknown key above", "webhooks:\n  retries: 3\n", "", `config: webhooks.retries (line 2): unknown key "retries"`},
		{"bad type inside", "webhooks:\n  endpoints:\n    general: {tls_verify: maybe}\n",
			"", `config: webhooks.endpoints.general.tls_verify (line 3): "maybe": want true or false`},
		{"endpoints not a map", "webhooks:\n  endpoints: [a]\n", "", "config: webhooks.endpoints (line 2): a list: want a mapping of keys"},
		{"alias", "webhooks:\n  endpoints:\n    general: &ep {url: http://c/}\n    event_log: *ep\n", "http://c/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := sidecar.ParseConfig(strings.NewReader(tt.src))
			if tt.wantErr != "" {
				var ce *sidecar.ConfigError
				if !errors.As(err, &ce) || err.Error() != tt.wantErr {
					t.Fatalf("ParseConfig = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got := cfg.Webhooks.Endpoints.EventLog.URL; got != tt.wantURL {
				t.Errorf("event_log.url = %q, want %q", got, tt.wantURL)
			}
		})
	}
}

// TestDecodeWebhooksExample: the webhooks section of docs/configuration.md "Keys and defaults"
// decodes to the defaults, plus what it sets.
func TestDecodeWebhooksExample(t *testing.T) {
	cfg, err := sidecar.ParseConfig(strings.NewReader(`
webhooks:
  enabled: true
  levels: [error]
  types: ["system.*"]
  endpoints:
    event_log: { url: "https://h/<notification_type>", user: "u", password_file: "", tls_verify: false, headers: {X-A: b} }
    general:   { url: "" }
  timeout: 3s
  retry_for: 1m
  queue: 10
`))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Webhooks
	ep := w.Endpoints.EventLog
	if ep.TLSVerify == nil || *ep.TLSVerify || ep.Headers["X-A"] != "b" || ep.User != "u" ||
		w.Timeout != 3*time.Second || w.RetryFor != time.Minute || w.Queue != 10 {
		t.Errorf("decoded %+v", w)
	}
}
