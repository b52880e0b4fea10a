package identity_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".sig"
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   event.Creds
	}{
		{"none", http.Header{}, event.Creds{Type: "public-access"}},
		{"jwt preferred_username", http.Header{"Authorization": {"Bearer " + jwt(`{"sub":"u-1","email":"a@x","preferred_username":"alice"}`)}},
			event.Creds{UUID: "u-1", Name: "alice", Type: "token"}},
		{"jwt email", http.Header{"Authorization": {"Bearer " + jwt(`{"sub":"u-2","email":"b@x","name":"Bob"}`)}},
			event.Creds{UUID: "u-2", Name: "b@x", Type: "token"}},
		{"jwt sub only", http.Header{"Authorization": {"Bearer " + jwt(`{"sub":"u-3"}`)}},
			event.Creds{UUID: "u-3", Name: "u-3", Type: "token"}},
		{"opaque bearer", http.Header{"Authorization": {"bearer s3cr3t-token"}},
			event.Creds{UUID: identity.ShortHash("s3cr3t-token"), Type: "token"}},
		{"basic", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("carol:pw"))}},
			event.Creds{Name: "carol", Type: "basic"}},
		{"api key header", http.Header{"X-Api-Key": {"k-123"}}, event.Creds{UUID: identity.ShortHash("k-123"), Type: "apikey"}},
		{"apikey header", http.Header{"Apikey": {"k-456"}}, event.Creds{UUID: identity.ShortHash("k-456"), Type: "apikey"}},
		{"cookie session", http.Header{"Cookie": {"session=abc"}}, event.Creds{Type: "user"}},
		{"garbage bearer jwt", http.Header{"Authorization": {"Bearer a.!!!.c"}}, event.Creds{UUID: identity.ShortHash("a.!!!.c"), Type: "token"}},
		{"basic without a colon keeps nothing", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("SECRETPW"))}},
			event.Creds{Type: "basic"}},
		{"basic with an empty password", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("dave:"))}},
			event.Creds{Name: "dave", Type: "basic"}},
		{"basic not base64", http.Header{"Authorization": {"Basic !!!"}}, event.Creds{Type: "basic"}},
		{"bearer wins over api key", http.Header{"Authorization": {"Bearer tok"}, "X-Api-Key": {"k"}},
			event.Creds{UUID: identity.ShortHash("tok"), Type: "token"}},
		{"unknown scheme falls through to the cookie", http.Header{"Authorization": {"Negotiate SECRET"}, "Cookie": {"s=1"}},
			event.Creds{Type: "user"}},
		{"token scheme (Jupyter, GitHub, Django REST)", http.Header{"Authorization": {"token SECRET"}},
			event.Creds{UUID: identity.ShortHash("SECRET"), Type: "token"}},
		{"Token scheme with a JWT", http.Header{"Authorization": {"Token " + jwt(`{"sub":"u1","email":"a@b"}`)}},
			event.Creds{UUID: "u1", Name: "a@b", Type: "token"}},
		{"jwt without names", http.Header{"Authorization": {"Bearer " + jwt(`{"iat":1}`)}},
			event.Creds{UUID: identity.ShortHash(jwt(`{"iat":1}`)), Type: "token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identity.FromRequest(tt.header); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestShortHashLength(t *testing.T) {
	if h := identity.ShortHash("x"); len(h) != 12 {
		t.Fatalf("%q", h)
	}
}

func TestClientIP(t *testing.T) {
	def, err := identity.ParseTrusted([]string{"loopback", "linklocal", "uniquelocal"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores xff", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer no xff", "127.0.0.1:5555", nil, "127.0.0.1"},
		{"trusted peer, rightmost untrusted", "10.0.0.2:1", []string{"198.51.100.7, 203.0.113.5, 10.0.0.9"}, "203.0.113.5"},
		{"spoofed left entry ignored", "10.0.0.2:1", []string{"6.6.6.6", "203.0.113.5"}, "203.0.113.5"},
		{"all trusted: leftmost", "10.0.0.2:1", []string{"192.168.1.1, 10.1.1.1"}, "192.168.1.1"},
		{"garbage skipped", "127.0.0.1:1", []string{"203.0.113.5, not-an-ip"}, "203.0.113.5"},
		{"ipv6 peer", "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1"},
		{"ipv4 with port in xff", "127.0.0.1:1", []string{"198.51.100.1:4444"}, "198.51.100.1"},
		{"mapped v4", "[::ffff:127.0.0.1]:1", []string{"198.51.100.2"}, "198.51.100.2"},
		{"link-local peer with a zone is trusted", "[fe80::1%eth0]:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"zone in xff dropped", "127.0.0.1:1", []string{`2001:db8::7%"evil`}, "2001:db8::7"},
		{"zoned link-local xff entry is trusted", "127.0.0.1:1", []string{"203.0.113.5, fe80::9%eth1"}, "203.0.113.5"},
		{"several header lines", "127.0.0.1:1", []string{"198.51.100.1", "203.0.113.5, 10.0.0.1"}, "203.0.113.5"},
		{"empty entries", "127.0.0.1:1", []string{" , ,203.0.113.5,, "}, "203.0.113.5"},
		{"untrusted peer with a port-less remote", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := def.ClientIP(tt.remote, tt.xff); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedErrors(t *testing.T) {
	if _, err := identity.ParseTrusted([]string{"loopback", "nonsense"}); err == nil || err.Error() != `trust_proxy[1]: "nonsense": want loopback, linklocal, uniquelocal or a CIDR` {
		t.Fatalf("err = %v", err)
	}
	if _, err := identity.ParseTrusted([]string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialSources: a bearer token in a query parameter (names
// compared case-insensitively, unescaped) when no Authorization header is
// sent, and API keys in configured headers.
func TestCredentialSources(t *testing.T) {
	req := func(target string, h http.Header) *http.Request {
		r, err := http.NewRequest("GET", "http://app"+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			r.Header[k] = v
		}
		return r
	}
	def := (*identity.Hasher)(nil)
	custom := identity.New(nil, []string{"jwt_token"}, []string{"x-auth-token"})
	tests := []struct {
		name string
		hs   *identity.Hasher
		r    *http.Request
		want event.Creds
	}{
		{"?token= by default", def, req("/api/kernels?token=abc%2B1", nil), event.Creds{UUID: identity.ShortHash("abc+1"), Type: "token"}},
		{"?ACCESS_TOKEN= by default", def, req("/x?a=1&ACCESS_TOKEN=t2", nil), event.Creds{UUID: identity.ShortHash("t2"), Type: "token"}},
		{"the header wins over the query", def, req("/x?token=q", http.Header{"Authorization": {"Bearer h"}}), event.Creds{UUID: identity.ShortHash("h"), Type: "token"}},
		{"an empty value is no token", def, req("/x?token=&a=b", http.Header{"Cookie": {"s=1"}}), event.Creds{Type: "user"}},
		{"another parameter is no token", def, req("/x?tokens=abc", nil), event.Creds{Type: "public-access"}},
		{"configured parameters only", custom, req("/x?token=abc&jwt_token=j", nil), event.Creds{UUID: identity.ShortHash("j"), Type: "token"}},
		{"configured key header", custom, req("/x", http.Header{"X-Auth-Token": {"k1"}}), event.Creds{UUID: identity.ShortHash("k1"), Type: "apikey"}},
		{"no key header by default", def, req("/x", http.Header{"X-Auth-Token": {"k1"}}), event.Creds{Type: "public-access"}},
		{"no query tokens when none are configured", identity.New(nil, nil, nil), req("/x?token=abc", nil), event.Creds{Type: "public-access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hs.FromHTTP(tt.r); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
