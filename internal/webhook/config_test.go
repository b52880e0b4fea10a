package webhook_test

import (
	"errors"
	"testing"
	"time"

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
		{"batch of 1000", func(c *webhook.Config) { c.Batch.MaxEvents = 1000 }, ""},
		{"batch of 0", func(c *webhook.Config) { c.Batch.MaxEvents = 0 },
			`webhooks.batch.max_events: "0": want 1 (one event per POST) to 1000`},
		{"batch of 1001", func(c *webhook.Config) { c.Batch.MaxEvents = 1001 },
			`webhooks.batch.max_events: "1001": want 1 (one event per POST) to 1000`},
		{"zero max_wait", func(c *webhook.Config) { c.Batch.MaxWait = 0 },
			`webhooks.batch.max_wait: "0s": must be positive`},
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
