// Package webhook pushes audit events to an HTTP receiver (docs/webhooks.md): one
// POST per event, or per batch of events (docs/webhooks.md "Batches"),
// retried with backoff, never slowing the code that publishes them.
package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/httptoken"

	"github.com/trailcar/trailcar/internal/glob"

	"github.com/trailcar/trailcar/internal/event"
)

// NotificationType is what the body's notification_type says and what
// "<notification_type>" in an endpoint url becomes.
const NotificationType = "event_log"

// notificationTypePlaceholder in an endpoint url is replaced by NotificationType.
const notificationTypePlaceholder = "<notification_type>"

// Endpoint is one receiver.
type Endpoint struct {
	// URL receives the POSTs; "<notification_type>" in it becomes
	// "event_log". Empty: this endpoint is not used.
	URL  string `yaml:"url"`
	User string `yaml:"user"`
	// PasswordFile holds the basic auth password, read at New and
	// trimmed of surrounding white space. Basic auth is sent when User or
	// PasswordFile is set.
	PasswordFile string `yaml:"password_file"`
	// TLSVerify false skips the verification of the receiver's
	// certificate. Nil means true. It applies to the default transport
	// only (see Options.Transport).
	TLSVerify *bool `yaml:"tls_verify"`
	// Headers are set on every request after the others (Content-Type,
	// User-Agent, basic auth), so they may replace them.
	Headers map[string]string `yaml:"headers"`
}

// MarshalYAML writes every key with its effective value, defaults
// included, so that `trailcar config check` shows them: tls_verify true
// when unset, headers {} when there are none.
func (e Endpoint) MarshalYAML() (any, error) {
	headers := e.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	return struct {
		URL          string            `yaml:"url"`
		User         string            `yaml:"user"`
		PasswordFile string            `yaml:"password_file"`
		TLSVerify    bool              `yaml:"tls_verify"`
		Headers      map[string]string `yaml:"headers"`
	}{e.URL, e.User, e.PasswordFile, e.TLSVerify == nil || *e.TLSVerify, headers}, nil
}

// Endpoints are the receivers by role. EventLog is used when its URL is
// set, else General. In YAML, event_update is another name for event_log.
type Endpoints struct {
	EventLog Endpoint `yaml:"event_log" alias:"event_update"`
	General  Endpoint `yaml:"general"`
}

// Config is the webhooks: section of the configuration.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Levels are the event levels sent; empty: every level.
	Levels []string `yaml:"levels"`
	// Types are globs on the event type, with "/" as the separator like
	// every glob in the configuration (so "system.*" matches every
	// system event); empty: every type.
	Types     []string  `yaml:"types"`
	Endpoints Endpoints `yaml:"endpoints"`
	// Timeout bounds one attempt, response body included.
	Timeout time.Duration `yaml:"timeout"`
	// RetryFor is how long after its first attempt a delivery is retried
	// before it is given up: no attempt starts later than that (so one
	// may end up to Timeout after it). Zero: one attempt only.
	RetryFor time.Duration `yaml:"retry_for"`
	// Queue is how many events may wait for delivery; beyond that,
	// published events are dropped.
	Queue int `yaml:"queue"`
	// Batch groups events into one POST (docs/webhooks.md "Batches").
	Batch Batch `yaml:"batch"`
}

// MaxBatchEvents bounds batch.max_events: a batch is one request body
// held in memory while it is retried, and one delivery_failed report
// lists every id in it.
const MaxBatchEvents = 1000

// Batch is the webhooks.batch setting.
type Batch struct {
	// MaxEvents is the most events in one POST. 1 (the default): each
	// body is one envelope object; more: each body is a JSON array of 1
	// to MaxEvents envelopes.
	MaxEvents int `yaml:"max_events"`
	// MaxWait is how long after its first event a batch that is not full
	// is sent anyway.
	MaxWait time.Duration `yaml:"max_wait"`
}

// batched reports whether bodies are arrays.
func (b Batch) batched() bool { return b.MaxEvents > 1 }

// DefaultConfig returns the defaults of docs/configuration.md "Keys and defaults": disabled, every level and
// type, 2 s per attempt, retried for 30 s, 10000 events queued, one event
// per POST.
func DefaultConfig() Config {
	return Config{
		Timeout:  2 * time.Second,
		RetryFor: 30 * time.Second,
		Queue:    10000,
		Batch:    Batch{MaxEvents: 1, MaxWait: time.Second},
	}
}

// FieldError is a configuration error: the key (relative to the top of the
// configuration, e.g. "webhooks.levels[0]"), its value and what is wrong.
type FieldError struct {
	Key   string
	Value string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %q: %v", e.Key, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Validate reports the first invalid setting as a *FieldError naming its
// key. Settings are checked even when the section is disabled, so that a
// mistake shows before it is switched on.
func (c Config) Validate() error {
	for i, level := range c.Levels {
		if level != event.LevelInfo && level != event.LevelError {
			return &FieldError{Key: fmt.Sprintf("webhooks.levels[%d]", i), Value: level,
				Err: errors.New("want info or error")}
		}
	}
	if _, err := compileTypes(c.Types); err != nil {
		return err
	}
	if err := c.Endpoints.EventLog.validate("webhooks.endpoints.event_log"); err != nil {
		return err
	}
	if err := c.Endpoints.General.validate("webhooks.endpoints.general"); err != nil {
		return err
	}
	if c.Enabled && c.Endpoints.EventLog.URL == "" && c.Endpoints.General.URL == "" {
		return &FieldError{Key: "webhooks.endpoints.event_log.url", Value: "",
			Err: errors.New("webhooks are enabled but neither event_log.url nor general.url is set")}
	}
	if c.Timeout <= 0 {
		return &FieldError{Key: "webhooks.timeout", Value: c.Timeout.String(), Err: errors.New("must be positive")}
	}
	if c.RetryFor < 0 {
		return &FieldError{Key: "webhooks.retry_for", Value: c.RetryFor.String(), Err: errors.New("must not be negative")}
	}
	if c.Queue <= 0 {
		return &FieldError{Key: "webhooks.queue", Value: strconv.Itoa(c.Queue), Err: errors.New("must be positive")}
	}
	if c.Batch.MaxEvents < 1 || c.Batch.MaxEvents > MaxBatchEvents {
		return &FieldError{Key: "webhooks.batch.max_events", Value: strconv.Itoa(c.Batch.MaxEvents),
			Err: fmt.Errorf("want 1 (one event per POST) to %d", MaxBatchEvents)}
	}
	if c.Batch.MaxWait <= 0 {
		return &FieldError{Key: "webhooks.batch.max_wait", Value: c.Batch.MaxWait.String(), Err: errors.New("must be positive")}
	}
	return nil
}

// compileTypes compiles the type globs.
func compileTypes(types []string) ([]*glob.Pattern, error) {
	var patterns []*glob.Pattern
	for i, t := range types {
		p, err := glob.Compile(t)
		if err != nil {
			return nil, &FieldError{Key: fmt.Sprintf("webhooks.types[%d]", i), Value: t, Err: err}
		}
		patterns = append(patterns, p)
	}
	return patterns, nil
}

func (e Endpoint) validate(key string) error {
	if e.URL != "" {
		if _, err := parseURL(e.URL); err != nil {
			return &FieldError{Key: key + ".url", Value: e.URL, Err: err}
		}
	}
	for name, value := range e.Headers {
		if !httptoken.Valid(name) {
			return &FieldError{Key: key + ".headers", Value: name, Err: errors.New("not a valid header name")}
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return &FieldError{Key: key + ".headers." + name, Value: value,
				Err: errors.New("header value must not contain CR, LF or NUL")}
		}
	}
	return nil
}

// parseURL substitutes the notification type into raw and checks that the
// result is an absolute http or https url.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.ReplaceAll(raw, notificationTypePlaceholder, NotificationType))
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // the value is already in the FieldError
		}
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("want an http or https url")
	}
	if u.Host == "" {
		return nil, errors.New("missing host")
	}
	return u, nil
}

// withoutCredentials returns u as a string with no user info, for logs and
// reports.
func withoutCredentials(u *url.URL) string {
	clean := *u
	clean.User = nil
	return clean.String()
}

// target returns the endpoint in use and its name (the metric label and
// the details.endpoint of reports): event_log when its url is set, else
// general.
func (c Config) target() (string, Endpoint) {
	if c.Endpoints.EventLog.URL != "" {
		return "event_log", c.Endpoints.EventLog
	}
	return "general", c.Endpoints.General
}
