package sidecar

import (
	"crypto/tls"
	"errors"
	"os"
	"sync"
	"time"
)

// adminCert serves the admin port's certificate (admin.tls_cert_file and
// tls_key_file, docs/cluster.md "Tokens and TLS"), read again when either
// file changes: a Secret that cert-manager renews is picked up without a
// restart, and a half-written pair keeps the one before.
type adminCert struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	certMod, keyMod   time.Time
}

// loadAdminCert reads the pair once, as the config check does; its
// errors name the key.
func loadAdminCert(a AdminConfig) (*adminCert, error) {
	if a.TLSCertFile == "" && a.TLSKeyFile == "" {
		return nil, nil
	}
	if a.TLSCertFile == "" || a.TLSKeyFile == "" {
		return nil, &ConfigError{Key: "admin.tls_cert_file", Value: a.TLSCertFile, Err: errors.New("admin.tls_cert_file and admin.tls_key_file go together")}
	}
	c := &adminCert{certFile: a.TLSCertFile, keyFile: a.TLSKeyFile}
	if err := c.reload(); err != nil {
		return nil, &ConfigError{Key: "admin.tls_cert_file", Value: a.TLSCertFile, Err: err}
	}
	return c, nil
}

func (c *adminCert) reload() error {
	cm, err := modTime(c.certFile)
	if err != nil {
		return err
	}
	km, err := modTime(c.keyFile)
	if err != nil {
		return err
	}
	if c.cert != nil && cm.Equal(c.certMod) && km.Equal(c.keyMod) {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	c.cert, c.certMod, c.keyMod = &cert, cm, km
	return nil
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// get is tls.Config.GetCertificate: the pair as the files hold it now,
// or the last good one.
func (c *adminCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reload() // on error the last good pair stays: a renewal being written is not an outage
	return c.cert, nil
}

func (c *adminCert) config() *tls.Config {
	return &tls.Config{GetCertificate: c.get, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
}
