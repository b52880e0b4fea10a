package proxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rotate"
	"github.com/trailcar/trailcar/rules"
)

// hostileUpstream answers with the audit headers named by ?case=.
func hostileUpstream(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.URL.Query().Get("case") {
	case "huge-details":
		h.Set("X-Audit-Details", `{"k":"`+strings.Repeat("a", 300<<10)+`"}`)
	case "nested-details":
		h.Set("X-Audit-Details", `{"a":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`)
	case "invalid-utf8-details":
		h.Set("X-Audit-Details", "{\"a\":\"\xff\xfe\",\"b\":\"\xc3\"}")
	case "invalid-utf8-message":
		h.Set("X-Audit-Message", "bad \xff\xfe bytes")
		h.Set("X-Audit-Resource", "t\xff:\xfeid")
		h.Set("X-Audit-User-Name", "\xc3")
	case "control-message":
		h.Set("X-Audit-Message", "a\x01b\x7fc\td")
	case "json-breakers":
		h.Set("X-Audit-Message", `"},{"id":"x`)
		h.Set("X-Audit-Action", `\"\\`)
		h.Set("X-Audit-Resource", "a\u2028b:c\u2029d")
		h.Set("X-Audit-User-Id", `</script>`)
	case "long-message":
		h.Set("X-Audit-Message", strings.Repeat("m", 500<<10))
	}
	w.WriteHeader(200)
	io.WriteString(w, "ok")
}

func jwtWith(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".sig"
}

// TestHostileInput: whatever the client or the upstream sends, the result
// is one well-formed line in the audit file or a clean 4xx, never a crash,
// a torn line or a second object on a line.
func TestHostileInput(t *testing.T) {
	tests := []struct {
		name    string
		request string // raw, without the final CRLF; Host and Connection are added
		want4xx bool   // refused by net/http before the proxy
	}{
		{"newline in path", "GET /api/v3/a%0ab%0d%0a{\"id\":1} HTTP/1.1", false},
		{"nul in path", "POST /api/v3/a%00b HTTP/1.1", false},
		{"quote and backslash in path", "GET /api/v3/%22%5C%22 HTTP/1.1", false},
		{"escaped invalid utf-8 in path", "GET /api/v3/%ff%fe%c3 HTTP/1.1", false},
		{"raw invalid utf-8 in path", "GET /api/v3/\xff\xfe HTTP/1.1", false},
		{"dot segments", "GET /api/v3/proxy/../../../etc/passwd HTTP/1.1", false},
		{"very long path", "GET /api/v3/" + strings.Repeat("p", 60<<10) + " HTTP/1.1", false},
		{"bad escape", "GET /api/v3/%zz HTTP/1.1", true},
		{"unknown method", "FROB /api/v3/x HTTP/1.1", false},
		{"jwt with invalid utf-8 claims", "GET /api/v3/x HTTP/1.1\r\nAuthorization: Bearer " +
			jwtWith("{\"preferred_username\":\"\xff\\u0001\\n\\\"\",\"sub\":\"\\u2028\"}"), false},
		{"jwt with a huge claim", "GET /api/v3/x HTTP/1.1\r\nAuthorization: Bearer " +
			jwtWith(`{"sub":"`+strings.Repeat("s", 40<<10)+`"}`), false},
		{"basic with invalid utf-8 user", "GET /api/v3/x HTTP/1.1\r\nAuthorization: Basic " +
			base64.StdEncoding.EncodeToString([]byte("\xff\x01\"user:pw")), false},
		{"control char in a header value", "GET /api/v3/x HTTP/1.1\r\nAuthorization: Bearer a\x01b", true},
		{"obs-text in a header value", "GET /api/v3/x HTTP/1.1\r\nCookie: s=\xff\xfe\r\nX-Api-Key: \xff", false},
		{"garbage forwarded-for", "GET /api/v3/x HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\xff, fe80::1%\"x, ,,, [::1]:80", false},
		{"100 KB header block", "GET /api/v3/x HTTP/1.1\r\nX-Big: " + strings.Repeat("h", 100<<10), true},
		{"huge audit details", "GET /api/v3/x?case=huge-details HTTP/1.1", false},
		{"deeply nested audit details", "GET /api/v3/x?case=nested-details HTTP/1.1", false},
		{"invalid utf-8 audit details", "GET /api/v3/x?case=invalid-utf8-details HTTP/1.1", false},
		{"invalid utf-8 audit headers", "GET /api/v3/x?case=invalid-utf8-message HTTP/1.1", false},
		{"control chars in audit headers", "GET /api/v3/x?case=control-message HTTP/1.1", false},
		{"json breakers in audit headers", "GET /api/v3/x?case=json-breakers HTTP/1.1", false},
		{"very long audit message", "GET /api/v3/x?case=long-message HTTP/1.1", false},
	}

	dir := t.TempDir()
	file, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	var writer *audit.Writer
	policy := rules.DefaultPolicy()
	policy.Always = []string{"/", "/**"} // everything, so every handled request is a line
	h := newHarness(t, http.HandlerFunc(hostileUpstream), harnessOptions{policy: &policy, configure: func(o *proxy.Options) {
		writer = audit.New(audit.Options{File: file, Metrics: o.Metrics, Service: "console", Host: "h"})
		o.Sink = writer
	}})
	addr := h.front.Listener.Addr().String()

	ids := map[string]string{} // id the client got -> case
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawRequest(t, addr, tt.request+"\r\nHost: x\r\nConnection: close\r\n\r\n")
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			is4xx := resp.StatusCode >= 400 && resp.StatusCode < 500
			if is4xx != tt.want4xx {
				t.Errorf("status %d, want4xx %v", resp.StatusCode, tt.want4xx)
			}
			if id := resp.Header.Get("X-Request-Id"); id != "" {
				ids[id] = tt.name
			} else if !is4xx {
				t.Errorf("status %d without a request id", resp.StatusCode)
			}
		})
	}
	h.waitServed(int64(len(ids)))
	if err := writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}

	lines := readLines(t, dir)
	if len(lines) != len(ids) || h.served.Load() != int64(len(ids)) {
		t.Errorf("%d lines, %d requests handled, %d answered with an id", len(lines), h.served.Load(), len(ids))
	}
	for _, line := range lines {
		var e event.Event
		if err := event.Decode(line, &e); err != nil {
			t.Errorf("line does not decode: %v", err)
			continue
		}
		name, ok := ids[e.ID]
		if !ok {
			t.Errorf("line with unknown or repeated id %s", e.ID)
			continue
		}
		delete(ids, e.ID)
		if name == "huge audit details" && !bytes.Contains(line, []byte(`"truncated":true`)) {
			t.Errorf("%s: a 300 KB detail was not cut: line of %d bytes", name, len(line))
		}
		if name == "invalid utf-8 audit details" && (e.Res.ClientDetails != nil || !bytes.Contains(e.Details, []byte(`"invalid_audit_details":"{\"a\":\"\ufffd`))) {
			t.Errorf("%s: client_details %s, details %s; want the value kept as a repaired string", name, e.Res.ClientDetails, e.Details)
		}
	}
	for id, name := range ids {
		t.Errorf("%s: no line for id %s", name, id)
	}
}

// readLines reads every audit file in dir and checks that each line is
// one valid UTF-8 JSON object, newline-terminated, in a file of at most
// 1 MiB.
func readLines(t testing.TB, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, de := range entries {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1<<20 {
			t.Errorf("%s: %d bytes, more than 1 MiB", de.Name(), len(data))
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Errorf("%s: last line not terminated", de.Name())
		}
		for i, line := range bytes.SplitAfter(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			line = line[:len(line)-1]
			var obj map[string]json.RawMessage
			switch {
			case !utf8.Valid(line):
				t.Errorf("%s:%d: not UTF-8: %q", de.Name(), i+1, clip(line))
			case !json.Valid(line) || json.Unmarshal(line, &obj) != nil:
				t.Errorf("%s:%d: not one JSON object: %q", de.Name(), i+1, clip(line))
			case bytes.ContainsAny(line, "\r\u2028\u2029"):
				t.Errorf("%s:%d: raw line separator: %q", de.Name(), i+1, clip(line))
			}
			lines = append(lines, line)
		}
	}
	return lines
}

func clip(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%s…(%d bytes)", b[:300], len(b))
	}
	return string(b)
}
