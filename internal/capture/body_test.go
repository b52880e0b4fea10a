package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/capture"
)

var defaultFields = capture.NewFields([]string{"password", "secret", "token", "access_token", "refresh_token",
	"private_key", "client_secret", "apikey", "api_key"})

func whole(body, contentType string) capture.Kept {
	return capture.Kept{Head: []byte(body), Size: int64(len(body)), ContentType: contentType}
}

func TestBody(t *testing.T) {
	long := `{"name":"` + strings.Repeat("n", 200) + `","password":"hunter2"}`
	cases := []struct {
		name      string
		kept      capture.Kept
		max       int
		want      string
		truncated bool
	}{
		{"json password at depth 3", whole(`{"user":{"auth":{"Password":"hunter2","n":1}},"list":[{"token":{"x":[1]}}, 2.50e3]}`, "application/json"), 4096,
			`{"user":{"auth":{"Password":"REDACTED","n":1}},"list":[{"token":"REDACTED"},2.50e3]}`, false},
		{"pretty json compacted", whole("{\n  \"a\": [ 1, true, null ],\n  \"b\": \"x\"\n}\n", "application/problem+json; charset=utf-8"), 4096,
			`{"a":[1,true,null],"b":"x"}`, false},
		{"json over max is a string of the redacted encoding", whole(`{"a":"0123456789","secret":"s3cr3t-value"}`, "application/json"), 20,
			`"{\"a\":\"0123456789\",\"s"`, true},
		{"json head cut: what was read, redacted", capture.Kept{Head: []byte(`{"password":"hun`), Size: 5000, ContentType: "application/json"}, 100,
			`"{\"password\":\"REDACTED\""`, true},
		{"json cut in a long secret still fills max from the rest", whole(`{"private_key":"`+strings.Repeat("k", 100)+`","b":"after"}`, "application/json"), 30,
			`"{\"private_key\":\"REDACTED\",\"b\":"`, true},
		{"not json", whole(`{"password":"x"`+"}}", "application/json"), 4096, `"<17 bytes of application/json, not valid JSON>"`, false},
		{"two values are not json", whole(`{} {}`, "application/json"), 4096, `"<5 bytes of application/json, not valid JSON>"`, false},
		{"scalar json", whole(`"hi"`, "application/json"), 4096, `"hi"`, false},
		{"form as object", whole(`user=alice&password=hunter2&tag=a&tag=b%20c&empty=&flag`, "application/x-www-form-urlencoded"), 4096,
			`{"user":"alice","password":"REDACTED","tag":["a","b c"],"empty":"","flag":""}`, false},
		{"text unredacted", whole("password=hunter2\nline two", "text/plain"), 4096, `"password=hunter2\nline two"`, false},
		{"text cut", whole("0123456789", "text/csv"), 4, `"0123"`, true},
		{"binary", whole("\x89PNG\r\n\x1a\n\x00\x00", "image/png"), 4096, `"<10 bytes of image/png>"`, false},
		{"text type but binary bytes", whole("a\x00b", "text/plain"), 4096, `"<3 bytes of text/plain>"`, false},
		{"json without type is redacted", whole(` {"password":"x"}`, ""), 4096, `{"password":"REDACTED"}`, false},
		{"form feed is not text", whole("a\fb", "text/plain"), 4096, `"<3 bytes of text/plain>"`, false},
		{"sniffed without type", whole("<html><body>hi</body></html>", ""), 4096, `"<html><body>hi</body></html>"`, false},
		{"br kept as size", capture.Kept{Head: []byte{1, 2, 3}, Size: 300, ContentType: "application/json", ContentEncoding: "br"}, 4096,
			`"<300 bytes of application/json (br)>"`, false},
		{"unknown length", capture.Kept{Head: []byte{0, 1}, Size: -1, ContentType: "application/octet-stream"}, 4096,
			`"<more than 2 bytes of application/octet-stream>"`, false},
		{"empty", whole("", "application/json"), 4096, ``, false},
		{"long json redacted within max", whole(long, "application/json"), 4096, strings.Replace(long, "hunter2", "REDACTED", 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, truncated := defaultFields.Body(c.kept, c.max)
			if string(got) != c.want || truncated != c.truncated {
				t.Errorf("Body = %s, %v\nwant   %s, %v", got, truncated, c.want, c.truncated)
			}
			if len(got) > 0 && !json.Valid(got) {
				t.Errorf("not a JSON value: %s", got)
			}
		})
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestBodyGzip(t *testing.T) {
	body := `{"id":2,"title":"t","auth":{"secret":"x"}}`
	z := gzipped(t, body)
	got, truncated := defaultFields.Body(capture.Kept{Head: z, Size: int64(len(z)), ContentType: "application/json", ContentEncoding: "gzip"}, 4096)
	if want := `{"id":2,"title":"t","auth":{"secret":"REDACTED"}}`; string(got) != want || truncated {
		t.Errorf("gzip body = %s %v, want %s", got, truncated, want)
	}

	// A bomb: 10 MB of zeros, a few KiB compressed, decodes only to the bound.
	bomb := gzipped(t, `"`+strings.Repeat("0", 10<<20)+`"`)
	got, truncated = defaultFields.Body(capture.Kept{Head: bomb, Size: int64(len(bomb)), ContentType: "text/plain", ContentEncoding: "gzip"}, 100)
	if len(got) > 110 || !truncated {
		t.Errorf("bomb body is %d bytes (truncated %v), want at most about 100, cut", len(got), truncated)
	}

	// A compressed head cut short: what decodes of it.
	var text strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&text, "line %d of %x\n", i, i*7919)
	}
	long := gzipped(t, text.String())
	got, truncated = defaultFields.Body(capture.Kept{Head: long[:len(long)/2], Size: int64(len(long)), ContentType: "text/plain", ContentEncoding: "gzip"}, 100)
	if !truncated || !strings.HasPrefix(string(got), `"line 0 of 0\nline 1 of 1eef\n`) || len(got) < 100 {
		t.Errorf("cut gzip body = %s %v", got, truncated)
	}
}

func TestObject(t *testing.T) {
	got, err := defaultFields.Object([]byte(`{ "name": "c1", "Client_Secret": {"a":1}, "nested": [{"API_KEY": "k"}] }`))
	if want := `{"name":"c1","Client_Secret":"REDACTED","nested":[{"API_KEY":"REDACTED"}]}`; err != nil || string(got) != want {
		t.Errorf("Object = %s, %v; want %s", got, err, want)
	}
	if _, err := defaultFields.Object([]byte(`{"a":`)); err == nil {
		t.Error("Object accepted a cut object")
	}
}

// unredacted names a key of redact_fields whose value in v is not
// REDACTED, at any depth.
func unredacted(v any) string {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			if defaultFields.Has(k) && val != capture.Redacted {
				return k
			}
			if leak := unredacted(val); leak != "" {
				return leak
			}
		}
	case []any:
		for _, el := range v {
			if leak := unredacted(el); leak != "" {
				return leak
			}
		}
	}
	return ""
}

// FuzzBody: whatever the body, the value is one valid JSON value, within
// about max bytes, and no redacted key's value survives in a JSON body.
func FuzzBody(f *testing.F) {
	f.Add([]byte(`{"a":{"b":{"password":"SEKRIT"}}}`), "application/json", 50)
	f.Add([]byte(`password=SEKRIT&x=1`), "application/x-www-form-urlencoded", 10)
	f.Add([]byte("plain\xff"), "text/plain", 3)
	f.Fuzz(func(t *testing.T, body []byte, ct string, max int) {
		if max < 1 || max > 1<<15 {
			return
		}
		for _, cut := range []int{len(body), len(body) / 2} {
			k := capture.Kept{Head: body[:cut], Size: int64(len(body)), ContentType: ct}
			got, _ := defaultFields.Body(k, max)
			if len(got) > 0 && !json.Valid(got) {
				t.Fatalf("not JSON: %q", got)
			}
			if len(got) > 2*max+160 {
				t.Fatalf("%d bytes for max %d", len(got), max)
			}
			var v any
			if json.Unmarshal(got, &v) == nil {
				if leak := unredacted(v); leak != "" {
					t.Fatalf("%s kept its value: %s", leak, got)
				}
			}
		}
	})
}
