package sidecar

import (
	"errors"
	"fmt"
	"strings"
)

// reservedHeaders are the headers the proxy or the audit depends on, in
// lower case (docs/configuration.md "Keys and defaults"): request_id_header
// must not name one. The proxy sets request_id_header on the request to
// the app and on the answer to the client, overwriting what was there, so
// naming one of these would break the exchange (Host, the framing,
// hop-by-hop headers), hide a credential from the app and from the trail
// (Authorization, Cookie, the API key headers), or let the app's answer
// speak for the audit (X-Audit-*).
var reservedHeaders = map[string]bool{
	"host": true, "authorization": true, "proxy-authorization": true, "cookie": true, "set-cookie": true,
	"transfer-encoding": true, "connection": true, "keep-alive": true, "proxy-connection": true,
	"proxy-authenticate": true, "te": true, "trailer": true, "upgrade": true, "http2-settings": true,
	"expect": true, "location": true, "user-agent": true, "traceparent": true, "forwarded": true,
	"x-api-key": true, "apikey": true,
}

// reservedPrefixes are families of reserved headers.
var reservedPrefixes = []string{"content-", "x-forwarded-", "x-audit-"}

// checkRequestIDHeader checks request_id_header: a valid header name the
// proxy and the audit do not depend on (identity.key_headers included).
func checkRequestIDHeader(name string, keyHeaders []string) error {
	const key = "request_id_header"
	if err := checkHeaderName(key, name); err != nil {
		return err
	}
	lower := strings.ToLower(name)
	reserved := reservedHeaders[lower]
	for _, k := range keyHeaders {
		reserved = reserved || strings.EqualFold(k, name)
	}
	for _, p := range reservedPrefixes {
		reserved = reserved || strings.HasPrefix(lower, p)
	}
	if reserved {
		return &ConfigError{Key: key, Value: name, Err: errors.New(
			"names a header the proxy or the audit depends on (it is set on every request and answer); use a header of its own, such as X-Request-Id")}
	}
	return nil
}

// checkFileMode refuses group and other write bits: the trail is never
// world-writable, nor writable by a group other processes may share.
func checkFileMode(t *TrackerConfig) error {
	mode, err := t.Mode()
	if err != nil {
		return &ConfigError{Key: "activity_tracker.file_mode", Value: t.FileMode, Err: err}
	}
	if mode&0o022 != 0 {
		return &ConfigError{Key: "activity_tracker.file_mode", Value: t.FileMode, Err: fmt.Errorf(
			"group or other could write the audit files: want no group or other write bits, e.g. %q", fmt.Sprintf("%04o", uint32(mode&^0o022)))}
	}
	return nil
}
