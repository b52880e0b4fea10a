package sidecar

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/httptoken"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/webhook"
	"github.com/trailcar/trailcar/rules"
)

// Config is trailcar's configuration (docs/configuration.md). DefaultConfig has every
// default; a file only needs what differs.
type Config struct {
	Listen          string   `yaml:"listen"`
	Upstream        string   `yaml:"upstream"`
	Service         string   `yaml:"service"`
	Host            string   `yaml:"host"`
	TrustProxy      []string `yaml:"trust_proxy"`
	RequestIDHeader string   `yaml:"request_id_header"`
	// UpstreamTimeout bounds the wait for the app's answer head, on every
	// path to the app (504 past it); 0: no bound, for long-poll apps.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`

	Admin           AdminConfig        `yaml:"admin"`
	ActivityTracker TrackerConfig      `yaml:"activity_tracker"`
	Identity        IdentityConfig     `yaml:"identity"`
	ConsoleLogs     ConsoleLogsConfig  `yaml:"console_logs"`
	Cluster         ClusterConfig      `yaml:"cluster"`
	Integrity       IntegrityConfig    `yaml:"integrity"`
	ClientEvents    ClientEventsConfig `yaml:"client_events"`
	Webhooks        webhook.Config     `yaml:"webhooks"`
	Ship            ship.Config        `yaml:"ship"`
}

// AdminConfig is the admin port.
type AdminConfig struct {
	Listen    string `yaml:"listen"`
	TokenFile string `yaml:"token_file"`
	// DeleteTokenFile, when set, holds the token deleting needs (the read
	// token is not enough).
	DeleteTokenFile string `yaml:"delete_token_file"`
	AllowDelete     bool   `yaml:"allow_delete"`
	// AllowedHosts are host names served besides localhost and the listen
	// address's; IP-literal Hosts are always served. Others get 421: a
	// page in a browser on the machine cannot reach the port by DNS
	// rebinding.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Insecure lets the admin port listen beyond loopback without a token.
	Insecure bool `yaml:"insecure"`
	// MaxStreams bounds the follow and SSE streams open at once (429 past
	// it).
	MaxStreams int `yaml:"max_streams"`
	// MaxQueries bounds the event answers (list, get, delete; local or
	// cluster) being built at once (429 past it): each holds up to a page
	// of 8 MiB, or a cluster answer's 16 MiB.
	MaxQueries int `yaml:"max_queries"`
	// TLSCertFile and TLSKeyFile (PEM), when set, make the admin port
	// serve HTTPS only: for https:// and dns+https:// cluster peers, whose
	// callers' tokens then cross the network encrypted.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
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
	// ResourceTemplate is the resource of a proxied event that no actions
	// rule or X-Audit-Resource names; "" for none.
	ResourceTemplate string `yaml:"resource_template"`
	// Capture keeps the request or response bodies of the routes it
	// names in their events (docs/events.md "Bodies"); first match wins.
	Capture []rules.CaptureRule `yaml:"capture"`
	// RedactFields are the JSON keys (any depth, any case) whose values
	// are REDACTED in captured bodies and client_details.
	RedactFields []string `yaml:"redact_fields"`
	LogQuery     bool     `yaml:"log_query"`
	RedactQuery  []string `yaml:"redact_query"`

	// Stdout also writes every line, byte for byte and in file order, to
	// the process's stdout (docs/configuration.md "Keys and defaults").
	Stdout bool `yaml:"stdout"`

	// RotateEvery also rotates the live file once its first line is this
	// old (docs/configuration.md "Rotation by age"); 0: by size only.
	RotateEvery time.Duration `yaml:"rotate_every"`
}

// TrackConfig says which requests are tracked.
type TrackConfig struct {
	Methods  []string `yaml:"methods"`
	Always   []string `yaml:"always"`
	Statuses []int    `yaml:"statuses"`
}

// IdentityConfig is how creds are recorded (docs/events.md "creds and address").
type IdentityConfig struct {
	// HMACKeyFile, when set, holds the key (the file's content, trimmed,
	// at least identity.MinHMACKey bytes) that the creds.uuid of opaque
	// tokens and API keys is an HMAC-SHA256 with, so that a weak key
	// cannot be found in the trail by hashing guesses.
	HMACKeyFile string `yaml:"hmac_key_file"`
	// QueryTokens are the query parameters that carry a bearer token
	// (Jupyter's ?token=), counted when no Authorization header is sent.
	QueryTokens []string `yaml:"query_tokens"`
	// KeyHeaders are more headers that carry an API key, besides X-API-Key
	// and apikey.
	KeyHeaders []string `yaml:"key_headers"`
}

// Hasher reads hmac_key_file and returns what makes creds of requests:
// the credential sources, and creds.uuid of secrets keyed when the file
// is set (the bare SHA-256 when not). A file that cannot be read or holds
// too short a key is a *ConfigError.
func (c *IdentityConfig) Hasher() (*identity.Hasher, error) {
	var key []byte
	if c.HMACKeyFile != "" {
		var err error
		if key, err = identity.LoadHMACKey(c.HMACKeyFile); err != nil {
			return nil, &ConfigError{Key: "identity.hmac_key_file", Value: c.HMACKeyFile, Err: err}
		}
	}
	return identity.New(key, c.QueryTokens, c.KeyHeaders), nil
}

func (c *IdentityConfig) validate() error {
	for i, name := range c.QueryTokens {
		if name == "" || strings.ContainsAny(name, "&=#? ") {
			return &ConfigError{Key: fmt.Sprintf("identity.query_tokens[%d]", i), Value: name, Err: errors.New("want a query parameter name")}
		}
	}
	for i, name := range c.KeyHeaders {
		if err := checkHeaderName(fmt.Sprintf("identity.key_headers[%d]", i), name); err != nil {
			return err
		}
	}
	return nil
}

// IntegrityConfig is the tamper evidence of the trail (docs/integrity.md).
type IntegrityConfig struct {
	Enabled bool `yaml:"enabled"`
	// Interval: a checkpoint at most this long after a line is written.
	Interval time.Duration `yaml:"interval"`
	// KeyFile is an Ed25519 private key (PEM, PKCS #8) that signs every
	// checkpoint; "" leaves them unsigned.
	KeyFile string `yaml:"key_file"`
}

func (c *IntegrityConfig) validate() error {
	if c.Interval < time.Second || c.Interval > 24*time.Hour {
		return &ConfigError{Key: "integrity.interval", Value: shape(c.Interval.String()), Err: errors.New("want 1s to 24h")}
	}
	return nil
}

// ClusterConfig makes the admin API answer for every pod (docs/cluster.md).
type ClusterConfig struct {
	// Peers are other trailcars' admin URLs, or dns+http(s)://NAME:PORT
	// whose every address is a peer, looked up at each query.
	Peers []string `yaml:"peers"`
	// Timeout bounds one cluster answer: every lookup, ask and re-ask of
	// every peer (docs/cluster.md "Bounds").
	Timeout time.Duration `yaml:"timeout"`
	// CAFile is a PEM bundle of the CAs of the peers' certificates, for
	// https:// and dns+https:// peers; "" means the system's roots.
	CAFile string `yaml:"ca_file"`
}

func (c *ClusterConfig) validate() error {
	if c.Timeout < 10*time.Millisecond || c.Timeout > time.Minute {
		return &ConfigError{Key: "cluster.timeout", Value: shape(c.Timeout.String()), Err: errors.New("want 10ms to 1m")}
	}
	for i, p := range c.Peers {
		if err := cluster.CheckPeer(p); err != nil {
			return &ConfigError{Key: fmt.Sprintf("cluster.peers[%d]", i), Value: p, Err: err}
		}
	}
	if _, err := c.CA(); err != nil {
		return err
	}
	return nil
}

// CA reads ca_file (nil when unset): read at config check too, so a
// missing, unreadable or non-PEM file stops serve before it starts.
func (c *ClusterConfig) CA() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	pool, err := cluster.LoadCA(c.CAFile)
	if err != nil {
		return nil, &ConfigError{Key: "cluster.ca_file", Value: c.CAFile, Err: err}
	}
	return pool, nil
}

// ConsoleLogsConfig serves the logs routes on the proxy port too, each
// request authorized by the app at AuthPath.
type ConsoleLogsConfig struct {
	Enabled  bool   `yaml:"enabled"`
	AuthPath string `yaml:"auth_path"`
}

func (c *ConsoleLogsConfig) validate() error {
	switch {
	case c.Enabled && c.AuthPath == "":
		return &ConfigError{Key: "console_logs.auth_path", Err: errors.New("required when console_logs is enabled: an app path that answers 2xx to callers allowed to read the logs")}
	case c.AuthPath != "" && !strings.HasPrefix(c.AuthPath, "/"):
		return &ConfigError{Key: "console_logs.auth_path", Value: c.AuthPath, Err: errors.New(`want a path on the app, starting with "/"`)}
	}
	return nil
}

// ClientEventsConfig is the browser-side events route on the proxy port.
// Rate and Burst (per client address) are a trailcar addition (docs/client-events.md "Rate limit").
type ClientEventsConfig struct {
	Enabled bool    `yaml:"enabled"`
	Path    string  `yaml:"path"`
	Rate    float64 `yaml:"rate"`
	Burst   int     `yaml:"burst"`
}

// DefaultConfig returns the defaults of docs/configuration.md "Keys and
// defaults". The tracking policy is rules.DefaultPolicy.
func DefaultConfig() Config {
	policy := rules.DefaultPolicy()
	return Config{
		Listen:          ":8080",
		Upstream:        "http://127.0.0.1:3000",
		Service:         policy.Service,
		TrustProxy:      []string{"loopback"},
		RequestIDHeader: "X-Request-Id",
		UpstreamTimeout: 60 * time.Second,
		Admin:           AdminConfig{Listen: "127.0.0.1:9090", AllowDelete: true, MaxStreams: 256, MaxQueries: 8},
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
				Methods:  policy.Methods,
				Always:   policy.Always,
				Statuses: policy.Statuses,
			},
			IgnoreRoutes:     policy.IgnoreRoutes,
			Actions:          policy.Actions,
			ActionTemplate:   policy.ActionTemplate,
			ResourceTemplate: policy.ResourceTemplate,
			RedactFields:     []string{"password", "secret", "token", "access_token", "refresh_token", "private_key", "client_secret", "apikey", "api_key"},
			RedactQuery:      []string{"token", "access_token", "apikey", "api_key", "password", "secret"},
		},
		Identity:     IdentityConfig{QueryTokens: []string{"token", "access_token"}},
		Integrity:    IntegrityConfig{Enabled: true, Interval: time.Minute},
		Cluster:      ClusterConfig{Timeout: 2 * time.Second},
		ClientEvents: ClientEventsConfig{Enabled: true, Path: "/api/v[123]/events/*/*", Rate: 20, Burst: 40},
		Webhooks:     webhook.DefaultConfig(),
		Ship:         ship.DefaultConfig(),
	}
}

// ErrInvalidConfig is what every config error is (errors.Is): a
// *ConfigError or a *SyntaxError. The CLI exits 2 on it.
var ErrInvalidConfig = errors.New("invalid config")

// ConfigError is a bad configuration value: the key path (as
// "activity_tracker.track.always[1]"), its line in the file (0 when it did
// not come from a file), the bad value and why it is bad.
type ConfigError struct {
	Key  string
	Line int
	// Value is the bad value as written: a string (printed quoted), a
	// number, or nil when the key itself is the problem.
	Value any
	Err   error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(e.Key)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	switch v := e.Value.(type) {
	case nil:
	case string:
		fmt.Fprintf(&b, ": %q", v)
	default:
		fmt.Fprintf(&b, ": %v", v)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause: ErrUnknownKey, ErrDuplicateKey, a
// *glob.SyntaxError, ...
func (e *ConfigError) Unwrap() error { return e.Err }

// Is makes every ConfigError an ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// SyntaxError is a config file that is not YAML; the yaml package's
// message says where.
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string        { return "config: " + e.Err.Error() }
func (e *SyntaxError) Unwrap() error        { return e.Err }
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalidConfig }

// LoadConfig reads a config file over the defaults and validates it.
// An empty path gives the defaults.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		cfg := DefaultConfig()
		return cfg, cfg.Validate()
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &ConfigError{Key: "--config", Err: err}
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// maxConfigSize bounds what is read of a config file.
const maxConfigSize = 1 << 20

// ParseConfig decodes YAML over the defaults, strictly (an unknown key is an
// error), and validates the result. Errors are a *ConfigError naming the
// key and its line, or a *SyntaxError.
func ParseConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg := DefaultConfig()
	if len(data) > maxConfigSize {
		return cfg, &ConfigError{Key: "(file)", Err: fmt.Errorf("larger than %d bytes", maxConfigSize)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, &SyntaxError{Err: err}
	}
	if err := decodeConfig(&root, &cfg); err != nil {
		return cfg, err
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
		c.Admin.validate,
		func() error { return checkUpstream(c.Upstream) },
		func() error { return required("service", c.Service) },
		func() error { _, err := identity.ParseTrusted(c.TrustProxy); return asConfigError(err) },
		c.Identity.validate,
		func() error { return checkRequestIDHeader(c.RequestIDHeader, c.Identity.KeyHeaders) },
		func() error {
			if c.UpstreamTimeout < 0 {
				return &ConfigError{Key: "upstream_timeout", Value: shape(c.UpstreamTimeout.String()), Err: errors.New("want 0 (no bound) or a positive duration")}
			}
			return nil
		},
		c.ActivityTracker.validate,
		c.ConsoleLogs.validate,
		c.Cluster.validate,
		c.Integrity.validate,
		c.ClientEvents.validate,
		func() error { return asConfigError(c.Webhooks.Validate()) },
		c.validateShip,
		func() error { _, err := c.Rules(); return err },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (a *AdminConfig) validate() error {
	if a.TokenFile == "" && !a.Insecure && !loopbackListen(a.Listen) {
		return &ConfigError{Key: "admin.token_file", Err: fmt.Errorf(
			"required: admin.listen %q is reachable beyond loopback, and without a token anyone there could read and erase the audit trail (set admin.insecure: true to allow it anyway)", a.Listen)}
	}
	if a.MaxStreams < 1 {
		return &ConfigError{Key: "admin.max_streams", Value: a.MaxStreams, Err: errors.New("want at least 1")}
	}
	if a.MaxQueries < 1 {
		return &ConfigError{Key: "admin.max_queries", Value: a.MaxQueries, Err: errors.New("want at least 1")}
	}
	if _, err := loadAdminCert(*a); err != nil {
		return err
	}
	for i, h := range a.AllowedHosts {
		if h == "" || strings.ContainsAny(h, " /:@") {
			return &ConfigError{Key: fmt.Sprintf("admin.allowed_hosts[%d]", i), Value: h, Err: errors.New("want a host name, without port or scheme")}
		}
	}
	return nil
}

// loopbackListen reports whether addr (host:port) listens on loopback only.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (t *TrackerConfig) validate() error {
	at := "activity_tracker."
	switch {
	case t.Enabled && t.Dir == "":
		return &ConfigError{Key: at + "dir", Err: errors.New("must be set when the activity tracker is enabled")}
	case t.Filename == "" || strings.ContainsAny(t.Filename, `/\`) || strings.HasPrefix(t.Filename, "."):
		return &ConfigError{Key: at + "filename", Value: t.Filename, Err: errors.New("want a plain file name, not starting with '.'")}
	case t.MaxSizeMB < 1:
		return &ConfigError{Key: at + "max_size_mb", Value: t.MaxSizeMB, Err: errors.New("want a whole number of MiB, at least 1")}
	case t.MaxFiles < 0:
		return &ConfigError{Key: at + "max_files", Value: t.MaxFiles, Err: errors.New("want 0 (keep all) or more")}
	case t.MaxAgeDays < 0:
		return &ConfigError{Key: at + "max_age_days", Value: t.MaxAgeDays, Err: errors.New("want 0 (no limit) or more")}
	case t.RotateEvery < 0 || t.RotateEvery > 0 && t.RotateEvery < time.Second:
		return &ConfigError{Key: at + "rotate_every", Value: shape(t.RotateEvery.String()), Err: errors.New("want 0 (by size only) or at least 1s")}
	case t.Queue < 1:
		return &ConfigError{Key: at + "queue", Value: t.Queue, Err: errors.New("want at least 1")}
	case t.WhenFull != "block" && t.WhenFull != "drop":
		return &ConfigError{Key: at + "when_full", Value: t.WhenFull, Err: errors.New("want block or drop")}
	case t.OnWriteError != "fail_open" && t.OnWriteError != "fail_closed":
		return &ConfigError{Key: at + "on_write_error", Value: t.OnWriteError, Err: errors.New("want fail_open or fail_closed")}
	}
	if err := checkFileMode(t); err != nil {
		return err
	}
	for i, k := range t.RedactFields {
		if k == "" {
			return &ConfigError{Key: fmt.Sprintf("%sredact_fields[%d]", at, i), Value: k, Err: errors.New("empty key")}
		}
	}
	for i, k := range t.RedactQuery {
		if k == "" {
			return &ConfigError{Key: fmt.Sprintf("%sredact_query[%d]", at, i), Value: k, Err: errors.New("empty key")}
		}
	}
	return nil
}

// Mode parses file_mode ("0640").
func (t *TrackerConfig) Mode() (os.FileMode, error) {
	m, err := strconv.ParseUint(t.FileMode, 8, 32)
	if err != nil || m == 0 || m > 0o777 {
		return 0, errors.New(`want octal permissions like "0640"`)
	}
	return os.FileMode(m), nil
}

func (c *ClientEventsConfig) validate() error {
	if c.Rate <= 0 {
		return &ConfigError{Key: "client_events.rate", Value: c.Rate, Err: errors.New("want events per second per client, more than 0")}
	}
	if c.Burst < 1 {
		return &ConfigError{Key: "client_events.burst", Value: c.Burst, Err: errors.New("want at least 1")}
	}
	if err := checkGlob(c.Path); err != nil {
		return &ConfigError{Key: "client_events.path", Value: c.Path, Err: err}
	}
	return nil
}

// Rules compiles the tracking policy.
func (c *Config) Rules() (*rules.Rules, error) {
	t := c.ActivityTracker
	r, err := rules.Compile(rules.Policy{
		Service:          c.Service,
		Methods:          t.Track.Methods,
		Always:           t.Track.Always,
		Statuses:         t.Track.Statuses,
		IgnoreRoutes:     t.IgnoreRoutes,
		Actions:          t.Actions,
		ActionTemplate:   t.ActionTemplate,
		ResourceTemplate: t.ResourceTemplate,
		Capture:          t.Capture,
	})
	return r, asConfigError(err)
}

// asConfigError turns the typed errors of the packages that check parts of
// the config into a ConfigError.
func asConfigError(err error) error {
	var re *rules.FieldError
	var we *webhook.FieldError
	var te *identity.EntryError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &ConfigError{Key: "activity_tracker." + re.Key, Value: re.Value, Err: re.Err}
	case errors.As(err, &we):
		return &ConfigError{Key: we.Key, Value: we.Value, Err: we.Err}
	case errors.As(err, &te):
		return &ConfigError{Key: fmt.Sprintf("trust_proxy[%d]", te.Index), Value: te.Entry, Err: te.Err}
	}
	return err
}

func checkAddr(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &ConfigError{Key: key, Value: addr, Err: errors.New(`want host:port, e.g. ":8080" or "127.0.0.1:9090"`)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return &ConfigError{Key: key, Value: addr, Err: fmt.Errorf("bad port %q", port)}
	}
	if strings.ContainsAny(host, " /") {
		return &ConfigError{Key: key, Value: addr, Err: fmt.Errorf("bad host %q", host)}
	}
	return nil
}

func checkUpstream(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &ConfigError{Key: "upstream", Value: raw, Err: errors.Unwrap(err)}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &ConfigError{Key: "upstream", Value: raw, Err: errors.New("want an http:// or https:// URL")}
	}
	if u.Host == "" {
		return &ConfigError{Key: "upstream", Value: raw, Err: errors.New("no host")}
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return &ConfigError{Key: "upstream", Value: raw, Err: fmt.Errorf("bad port %q", port)}
		}
	}
	return nil
}

func required(key, value string) error {
	if value == "" {
		return &ConfigError{Key: key, Err: errors.New("must not be empty")}
	}
	return nil
}

func checkHeaderName(key, name string) error {
	if name == "" {
		return &ConfigError{Key: key, Err: errors.New("must not be empty")}
	}
	if !httptoken.Valid(name) {
		return &ConfigError{Key: key, Value: name, Err: errors.New("not a valid header name")}
	}
	return nil
}

// checkGlob compiles a path glob as the rules do.
func checkGlob(pattern string) error {
	_, err := rules.CompileGlob(pattern)
	return err
}
