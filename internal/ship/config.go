package ship

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the ship: block (docs/shipping.md "Configuration"). The
// sidecar's config validates it; the zero value is not usable, start from
// DefaultConfig.
type Config struct {
	Enabled      bool              `yaml:"enabled"`
	URL          string            `yaml:"url"`
	Protocol     string            `yaml:"protocol"`
	Index        string            `yaml:"index"`
	Headers      map[string]string `yaml:"headers"`
	User         string            `yaml:"user"`
	PasswordFile string            `yaml:"password_file"`
	TokenFile    string            `yaml:"token_file"`
	CAFile       string            `yaml:"ca_file"`
	TLSVerify    bool              `yaml:"tls_verify"`
	Batch        BatchConfig       `yaml:"batch"`
	Timeout      time.Duration     `yaml:"timeout"`
}

// BatchConfig bounds one request to the store: it is sent when it holds
// MaxLines lines or MaxBytes bytes, or MaxWait after its first line.
type BatchConfig struct {
	MaxLines int           `yaml:"max_lines"`
	MaxBytes ByteSize      `yaml:"max_bytes"`
	MaxWait  time.Duration `yaml:"max_wait"`
}

// The protocols a store is spoken to with.
const (
	Elasticsearch = "elasticsearch"
	OTLP          = "otlp"
)

// DefaultConfig is shipping off, with the defaults of every key.
func DefaultConfig() Config {
	return Config{
		Protocol:  Elasticsearch,
		Index:     "trailcar",
		TLSVerify: true,
		Batch:     BatchConfig{MaxLines: 1000, MaxBytes: 1 << 20, MaxWait: time.Second},
		Timeout:   10 * time.Second,
	}
}

// ByteSize is a size in bytes, written in the config as a whole number of
// bytes or with a unit: 512KiB, 1MiB (powers of 1024; KB and MB are
// taken as the same, as people mean them).
type ByteSize int64

var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// ParseByteSize reads "1048576", "1MiB", "512 KiB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, errors.New(`want a size like "1MiB", "512KiB" or a number of bytes`)
	}
	return ByteSize(n * mult), nil
}

// String writes the size the way the config reads it, in the largest
// unit that divides it.
func (b ByteSize) String() string {
	switch n := int64(b); {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return strconv.FormatInt(n, 10)
	}
}

// MarshalYAML prints the size as the config reads it (trailcar config
// check).
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }
