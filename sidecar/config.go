package sidecar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/trailcar/trailcar/internal/httptoken"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/webhook"
	"github.com/trailcar/trailcar/rules"
)

// Config is trailcar's configuration (README "Configuration"). DefaultConfig has every
// default; a file only needs what differs.
type Config struct {
	Listen          string   `yaml:"listen"`
	Upstream        string   `yaml:"upstream"`
	Service         string   `yaml:"service"`
	Host            string   `yaml:"host"`
	TrustProxy      []string `yaml:"trust_proxy"`
	RequestIDHeader string   `yaml:"request_id_header"`

	Admin           AdminConfig        `yaml:"admin"`
	ActivityTracker TrackerConfig      `yaml:"activity_tracker"`
	ClientEvents    ClientEventsConfig `yaml:"client_events"`
	Webhooks        webhook.Config     `yaml:"webhooks"`
}

// AdminConfig is the admin port.
type AdminConfig struct {
	Listen      string `yaml:"listen"`
	TokenFile   string `yaml:"token_file"`
	AllowDelete bool   `yaml:"allow_delete"`
}

// TrackerConfig is the activity tracker: which requests become events and
// how the audit file is written.
type TrackerConfig struct {
	Enabled        bool               `yaml:"enabled"`
	Dir            string             `yaml:"dir"`
	Filename       string             `yaml:"filename"`
	MaxSizeMB      int                `yaml:"max_size_mb"`
	MaxFiles       int                `yaml:"max_files"`
	MaxAgeDays     int                `yaml:"max_age_days"`
	Compress       bool               `yaml:"compress"`
	FileMode       string             `yaml:"file_mode"`
	Queue          int                `yaml:"queue"`
	WhenFull       string             `yaml:"when_full"`
	OnWriteError   string             `yaml:"on_write_error"`
	Track          TrackConfig        `yaml:"track"`
	IgnoreRoutes   []string           `yaml:"ignore_routes"`
	Actions        []rules.ActionRule `yaml:"actions"`
	ActionTemplate string             `yaml:"action_template"`
	LogQuery       bool               `yaml:"log_query"`
	RedactQuery    []string           `yaml:"redact_query"`
}

// TrackConfig says which requests are tracked.
type TrackConfig struct {
	Methods  []string `yaml:"methods"`
	Always   []string `yaml:"always"`
	Statuses []int    `yaml:"statuses"`
}

// ClientEventsConfig is the browser-side events route on the proxy port.
// Rate and Burst (per client address) are a trailcar addition; see the README.
type ClientEventsConfig struct {
	Enabled bool    `yaml:"enabled"`
	Path    string  `yaml:"path"`
	Rate    float64 `yaml:"rate"`
	Burst   int     `yaml:"burst"`
}

// DefaultConfig returns the defaults of README "Configuration".
func DefaultConfig() Config {
	return Config{
		Listen:          ":8080",
		Upstream:        "http://127.0.0.1:3000",
		Service:         "console",
		TrustProxy:      []string{"loopback", "linklocal", "uniquelocal"},
		RequestIDHeader: "X-Request-Id",
		Admin:           AdminConfig{Listen: "127.0.0.1:9090", AllowDelete: true},
		ActivityTracker: TrackerConfig{
			Enabled:      true,
			Dir:          "./logs",
			Filename:     "audit.log",
			MaxSizeMB:    2,
			MaxFiles:     5,
			FileMode:     "0640",
			Queue:        10000,
			WhenFull:     "block",
			OnWriteError: "fail_open",
			Track: TrackConfig{
				Methods:  []string{"POST", "PUT", "PATCH", "DELETE"},
				Always:   []string{"/ak/api/**", "/auth/login", "/auth/logout", "/api/v[123]/logs/**"},
				Statuses: []int{400, 401, 403},
			},
			IgnoreRoutes: []string{
				"/api/v[123]/proxy{,/**}",
				"/grpcwp/**",
				"/configtxlator/**",
				"/api/v[123]/components/status",
				"/api/v[123]/logs",
			},
			Actions: []rules.ActionRule{
				{Path: "/auth/login", Action: "console.users.login"},
				{Path: "/auth/logout", Action: "console.users.logout"},
				{Path: "/api/v[123]/components{,/**}", Methods: []string{"POST"}, Action: "console.components.create"},
			},
			ActionTemplate: "{service}.{resource}.{verb}",
			RedactQuery:    []string{"token", "access_token", "apikey", "api_key", "password", "secret"},
		},
		ClientEvents: ClientEventsConfig{Enabled: true, Path: "/api/v[123]/events/*/*", Rate: 20, Burst: 40},
		Webhooks:     webhook.DefaultConfig(),
	}
}

// ConfigError is a bad configuration value: the key, the line in the file
// (0 when it did not come from the file) and what is wrong.
type ConfigError struct {
	Key  string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(e.Key)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// LoadConfig reads a config file over the defaults and validates it.
// An empty path gives the defaults.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		cfg := DefaultConfig()
		return cfg, cfg.Validate()
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &ConfigError{Key: "--config", Msg: err.Error()}
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes YAML over the defaults, strictly (an unknown key is an
// error), and validates the result. Errors are *ConfigError naming the key
// and its line.
func ParseConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg := DefaultConfig()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, yamlError(err, nil)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, yamlError(err, &root)
	}
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Line = keyLine(&root, ce.Key)
		}
		return cfg, err
	}
	return cfg, nil
}

// Validate checks every value and fills the derived defaults (host).
func (c *Config) Validate() error {
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	checks := []func() error{
		func() error { return checkAddr("listen", c.Listen) },
		func() error { return checkAddr("admin.listen", c.Admin.Listen) },
		func() error { return checkUpstream(c.Upstream) },
		func() error { return required("service", c.Service) },
		func() error { _, err := identity.ParseTrusted(c.TrustProxy); return asConfigError(err) },
		func() error { return checkHeaderName("request_id_header", c.RequestIDHeader) },
		c.ActivityTracker.validate,
		c.ClientEvents.validate,
		func() error { return asConfigError(c.Webhooks.Validate()) },
		func() error { _, err := c.Rules(); return err },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (t *TrackerConfig) validate() error {
	at := "activity_tracker."
	switch {
	case t.Enabled && t.Dir == "":
		return &ConfigError{Key: at + "dir", Msg: "must be set when the activity tracker is enabled"}
	case t.Filename == "" || strings.ContainsAny(t.Filename, `/\`) || strings.HasPrefix(t.Filename, "."):
		return &ConfigError{Key: at + "filename", Msg: fmt.Sprintf("%q: want a plain file name, not starting with '.'", t.Filename)}
	case t.MaxSizeMB < 1:
		return &ConfigError{Key: at + "max_size_mb", Msg: fmt.Sprintf("%d: want a whole number of MiB, at least 1", t.MaxSizeMB)}
	case t.MaxFiles < 0:
		return &ConfigError{Key: at + "max_files", Msg: fmt.Sprintf("%d: want 0 (keep all) or more", t.MaxFiles)}
	case t.MaxAgeDays < 0:
		return &ConfigError{Key: at + "max_age_days", Msg: fmt.Sprintf("%d: want 0 (no limit) or more", t.MaxAgeDays)}
	case t.Queue < 1:
		return &ConfigError{Key: at + "queue", Msg: fmt.Sprintf("%d: want at least 1", t.Queue)}
	case t.WhenFull != "block" && t.WhenFull != "drop":
		return &ConfigError{Key: at + "when_full", Msg: fmt.Sprintf("%q: want block or drop", t.WhenFull)}
	case t.OnWriteError != "fail_open" && t.OnWriteError != "fail_closed":
		return &ConfigError{Key: at + "on_write_error", Msg: fmt.Sprintf("%q: want fail_open or fail_closed", t.OnWriteError)}
	}
	if _, err := t.Mode(); err != nil {
		return &ConfigError{Key: at + "file_mode", Msg: err.Error()}
	}
	for i, k := range t.RedactQuery {
		if k == "" {
			return &ConfigError{Key: fmt.Sprintf("%sredact_query[%d]", at, i), Msg: "empty key"}
		}
	}
	return nil
}

// Mode parses file_mode ("0640").
func (t *TrackerConfig) Mode() (os.FileMode, error) {
	m, err := strconv.ParseUint(t.FileMode, 8, 32)
	if err != nil || m == 0 || m > 0o777 {
		return 0, fmt.Errorf("%q: want octal permissions like \"0640\"", t.FileMode)
	}
	return os.FileMode(m), nil
}

func (c *ClientEventsConfig) validate() error {
	if c.Rate <= 0 {
		return &ConfigError{Key: "client_events.rate", Msg: fmt.Sprintf("%v: want events per second per client, more than 0", c.Rate)}
	}
	if c.Burst < 1 {
		return &ConfigError{Key: "client_events.burst", Msg: fmt.Sprintf("%d: want at least 1", c.Burst)}
	}
	if err := checkGlob(c.Path); err != nil {
		return &ConfigError{Key: "client_events.path", Msg: fmt.Sprintf("%q: %v", c.Path, err)}
	}
	return nil
}

// Rules compiles the tracking policy.
func (c *Config) Rules() (*rules.Rules, error) {
	t := c.ActivityTracker
	r, err := rules.Compile(rules.Policy{
		Service:        c.Service,
		Methods:        t.Track.Methods,
		Always:         t.Track.Always,
		Statuses:       t.Track.Statuses,
		IgnoreRoutes:   t.IgnoreRoutes,
		Actions:        t.Actions,
		ActionTemplate: t.ActionTemplate,
	})
	return r, asConfigError(err)
}

// asConfigError turns the key-naming errors of other packages into a
// ConfigError.
func asConfigError(err error) error {
	if err == nil {
		return nil
	}
	var re *rules.FieldError
	if errors.As(err, &re) {
		return &ConfigError{Key: "activity_tracker." + re.Key, Msg: fmt.Sprintf("%q: %v", re.Value, re.Err)}
	}
	var we *webhook.FieldError
	if errors.As(err, &we) {
		return &ConfigError{Key: we.Key, Msg: fmt.Sprintf("%q: %v", we.Value, we.Err)}
	}
	msg := err.Error()
	if key, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(key, " ") {
		return &ConfigError{Key: key, Msg: rest}
	}
	return &ConfigError{Key: "?", Msg: msg}
}

func checkAddr(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("%q: want host:port, e.g. \":8080\" or \"127.0.0.1:9090\"", addr)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("%q: bad port %q", addr, port)}
	}
	if strings.ContainsAny(host, " /") {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("%q: bad host %q", addr, host)}
	}
	return nil
}

func checkUpstream(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &ConfigError{Key: "upstream", Msg: fmt.Sprintf("%q: %v", raw, errors.Unwrap(err))}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &ConfigError{Key: "upstream", Msg: fmt.Sprintf("%q: want an http:// or https:// URL", raw)}
	}
	if u.Host == "" {
		return &ConfigError{Key: "upstream", Msg: fmt.Sprintf("%q: no host", raw)}
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return &ConfigError{Key: "upstream", Msg: fmt.Sprintf("%q: bad port %q", raw, port)}
		}
	}
	return nil
}

func required(key, value string) error {
	if value == "" {
		return &ConfigError{Key: key, Msg: "must not be empty"}
	}
	return nil
}

func checkHeaderName(key, name string) error {
	if name == "" {
		return &ConfigError{Key: key, Msg: "must not be empty"}
	}
	if !httptoken.Valid(name) {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("%q: not a valid header name", name)}
	}
	return nil
}

// checkGlob compiles a path glob as the rules do.
func checkGlob(pattern string) error {
	_, err := rules.Compile(rules.Policy{Service: "x", Always: []string{pattern}, ActionTemplate: "x"})
	var fe *rules.FieldError
	if errors.As(err, &fe) {
		return fe.Err
	}
	return err
}
