package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/webhook"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := webhook.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*webhook.Config)
		want   string // the whole error; "" for none
	}{
		{"enabled with a url", func(c *webhook.Config) {
			c.Enabled = true
			c.Endpoints.EventLog.URL = "https://hooks.example.com/<notification_type>"
		}, ""},
		{"bad level", func(c *webhook.Config) { c.Levels = []string{"warn"} },
			`webhooks.levels[0]: "warn": want info or error`},
		{"bad glob", func(c *webhook.Config) { c.Types = []string{"http", "{a"} },
			"webhooks.types[1]: \"{a\": glob: syntax error at 2: unclosed `{`"},
		{"unparsable url", func(c *webhook.Config) { c.Endpoints.EventLog.URL = "ht!tp://" },
			`webhooks.endpoints.event_log.url: "ht!tp://": first path segment in URL cannot contain colon`},
		{"not http", func(c *webhook.Config) { c.Endpoints.General.URL = "ftp://example.com/x" },
			`webhooks.endpoints.general.url: "ftp://example.com/x": want an http or https url`},
		{"no host", func(c *webhook.Config) { c.Endpoints.General.URL = "http:///x" },
			`webhooks.endpoints.general.url: "http:///x": missing host`},
		{"enabled with no url", func(c *webhook.Config) { c.Enabled = true },
			`webhooks.endpoints.event_log.url: "": webhooks are enabled but neither event_log.url nor general.url is set`},
		{"bad header name", func(c *webhook.Config) { c.Endpoints.EventLog.Headers = map[string]string{"X Tenant": "a"} },
			`webhooks.endpoints.event_log.headers: "X Tenant": not a valid header name`},
		{"bad header value", func(c *webhook.Config) { c.Endpoints.EventLog.Headers = map[string]string{"X-Tenant": "a\nb"} },
			`webhooks.endpoints.event_log.headers.X-Tenant: "a\nb": header value must not contain CR, LF or NUL`},
		{"zero timeout", func(c *webhook.Config) { c.Timeout = 0 }, `webhooks.timeout: "0s": must be positive`},
		{"negative retry_for", func(c *webhook.Config) { c.RetryFor = -time.Second },
			`webhooks.retry_for: "-1s": must not be negative`},
		{"zero queue", func(c *webhook.Config) { c.Queue = 0 }, `webhooks.queue: "0": must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := webhook.DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate = %v\nwant          %s", err, tt.want)
			}
			var fieldErr *webhook.FieldError
			if !errors.As(err, &fieldErr) {
				t.Errorf("Validate = %T, want *webhook.FieldError", err)
			}
		})
	}
}

// decode decodes src over the defaults as the configuration is: strictly.
func decode(src string) (webhook.Config, error) {
	doc := struct {
		Webhooks webhook.Config `yaml:"webhooks"`
	}{webhook.DefaultConfig()}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(&doc)
	return doc.Webhooks, err
}

func TestDecodeYAML(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantURL string // Endpoints.EventLog.URL
		wantErr string // a part of the error
	}{
		{"event_log", "webhooks:\n  endpoints:\n    event_log: {url: http://a/}\n", "http://a/", ""},
		{"event_update is event_log", "webhooks:\n  endpoints:\n    event_update:\n      url: http://b/\n", "http://b/", ""},
		{"both", "webhooks:\n  endpoints:\n    event_log: {url: http://a/}\n    event_update: {url: http://b/}\n",
			"", "line 4: webhooks.endpoints.event_update: event_log is already set (line 3)"},
		{"unknown endpoint key", "webhooks:\n  endpoints:\n    event_log:\n      url: http://a/\n      pasword_file: /x\n",
			"", "line 5: field pasword_file not found in type webhook.Endpoint"},
		{"unknown endpoint", "webhooks:\n  endpoints:\n    events: {url: http://a/}\n",
			"", "line 3: field events not found in type webhook.Endpoints"},
		{"unknown key above", "webhooks:\n  retries: 3\n", "", "line 2: field retries not found in type webhook.Config"},
		{"bad type inside", "webhooks:\n  endpoints:\n    general: {tls_verify: maybe}\n",
			"", "line 3: cannot unmarshal !!str `maybe` into bool"},
		{"endpoints not a map", "webhooks:\n  endpoints: [a]\n", "", "line 2: cannot unmarshal !!seq"},
		{"alias", "webhooks:\n  endpoints:\n    general: &ep {url: http://c/}\n    event_log: *ep\n", "http://c/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := decode(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decode = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := cfg.Endpoints.EventLog.URL; got != tt.wantURL {
				t.Errorf("event_log.url = %q, want %q", got, tt.wantURL)
			}
		})
	}
}

// The example of README "Configuration" decodes to the defaults, plus what it sets.
func TestDecodeSpecExample(t *testing.T) {
	cfg, err := decode(`
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
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ep := cfg.Endpoints.EventLog
	if ep.TLSVerify == nil || *ep.TLSVerify || ep.Headers["X-A"] != "b" || ep.User != "u" ||
		cfg.Timeout != 3*time.Second || cfg.RetryFor != time.Minute || cfg.Queue != 10 {
		t.Errorf("decoded %+v", cfg)
	}
}
