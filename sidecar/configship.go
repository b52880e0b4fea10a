package sidecar

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"time"

	"github.com/trailcar/trailcar/internal/ship"
)

// validateShip checks the ship: block (docs/shipping.md "Configuration").
// The keys are checked whether or not shipping is on, so a config that
// turns it on later was already known good; url only when it is on.
func (c *Config) validateShip() error {
	sc := &c.Ship
	if sc.Enabled {
		if !c.ActivityTracker.Enabled {
			return &ConfigError{Key: "ship.enabled", Err: errors.New("shipping reads the log files: it needs activity_tracker.enabled")}
		}
		if sc.URL == "" {
			return &ConfigError{Key: "ship.url", Err: errors.New("required when ship.enabled: the store's ingest base URL")}
		}
	}
	if sc.URL != "" {
		u, err := url.Parse(sc.URL)
		switch {
		case err != nil:
			return &ConfigError{Key: "ship.url", Value: sc.URL, Err: errors.Unwrap(err)}
		case u.Scheme != "http" && u.Scheme != "https":
			return &ConfigError{Key: "ship.url", Value: sc.URL, Err: errors.New("want an http:// or https:// URL")}
		case u.Host == "":
			return &ConfigError{Key: "ship.url", Value: sc.URL, Err: errors.New("no host")}
		case u.User != nil:
			return &ConfigError{Key: "ship.url", Value: u.Redacted(), Err: errors.New("credentials in the URL would be logged; use ship.user and ship.password_file, or ship.token_file")}
		}
	}
	if sc.Protocol != ship.Elasticsearch && sc.Protocol != ship.OTLP {
		return &ConfigError{Key: "ship.protocol", Value: sc.Protocol, Err: errors.New("want elasticsearch or otlp")}
	}
	if sc.Protocol == ship.Elasticsearch && sc.Index == "" {
		return &ConfigError{Key: "ship.index", Err: errors.New("must not be empty with protocol elasticsearch")}
	}
	names := make([]string, 0, len(sc.Headers))
	for name := range sc.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := checkHeaderName("ship.headers", name); err != nil {
			return err
		}
	}
	if sc.PasswordFile != "" && sc.User == "" {
		return &ConfigError{Key: "ship.password_file", Err: errors.New("needs ship.user")}
	}
	if sc.User != "" && sc.TokenFile != "" {
		return &ConfigError{Key: "ship.token_file", Err: errors.New("set either ship.user (basic auth) or ship.token_file (bearer), not both")}
	}
	if sc.CAFile != "" {
		pem, err := os.ReadFile(sc.CAFile)
		if err != nil {
			return &ConfigError{Key: "ship.ca_file", Value: sc.CAFile, Err: err}
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return &ConfigError{Key: "ship.ca_file", Value: sc.CAFile, Err: errors.New("no PEM certificate in it")}
		}
	}
	b := sc.Batch
	if b.MaxLines < 1 || b.MaxLines > 100000 {
		return &ConfigError{Key: "ship.batch.max_lines", Value: b.MaxLines, Err: errors.New("want 1 to 100000")}
	}
	if b.MaxBytes < 1<<10 || b.MaxBytes > 64<<20 {
		return &ConfigError{Key: "ship.batch.max_bytes", Value: shape(b.MaxBytes.String()), Err: errors.New("want 1KiB to 64MiB")}
	}
	if b.MaxWait < 10*time.Millisecond || b.MaxWait > time.Minute {
		return &ConfigError{Key: "ship.batch.max_wait", Value: shape(b.MaxWait.String()), Err: errors.New("want 10ms to 1m")}
	}
	if sc.Timeout < 100*time.Millisecond || sc.Timeout > 5*time.Minute {
		return &ConfigError{Key: "ship.timeout", Value: shape(sc.Timeout.String()), Err: fmt.Errorf("want 100ms to 5m")}
	}
	return nil
}
