package identity_test

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/identity"
)

// FuzzClientIP: ClientIP never panics and answers either the peer's host
// or an address (without a zone) taken from X-Forwarded-For.
func FuzzClientIP(f *testing.F) {
	f.Add("127.0.0.1:5555", "203.0.113.5, 10.0.0.9", "")
	f.Add("[fe80::1%eth0]:80", "2001:db8::1%x", "198.51.100.1")
	f.Add("[::ffff:10.0.0.1]:1", "[::1]:80, 1.2.3.4:5, garbage", "")
	f.Add("203.0.113.9:1", "1.2.3.4", "5.6.7.8")
	f.Add("", ",,,", "\xff")
	trusted, err := identity.ParseTrusted([]string{"loopback", "linklocal", "uniquelocal"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		var xff []string
		if xff1 != "" {
			xff = append(xff, xff1)
		}
		if xff2 != "" {
			xff = append(xff, xff2)
		}
		got := trusted.ClientIP(remote, xff)
		peerHost, _, err := net.SplitHostPort(remote)
		if err != nil {
			peerHost = strings.TrimSuffix(strings.TrimPrefix(remote, "["), "]")
		}
		if got == peerHost {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.Zone() != "" || a.Is4In6() || !strings.Contains(strings.ToLower(xff1+xff2), got[:1]) {
			t.Fatalf("ClientIP(%q, %q) = %q: neither the peer nor a plain address from the header", remote, xff, got)
		}
	})
}

// FuzzFromRequest: FromRequest never panics and never returns a secret:
// a bearer token, a Basic password or malformed Basic credential, an API
// key or a cookie.
func FuzzFromRequest(f *testing.F) {
	f.Add(uint8(0), "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LTEifQ.sig", "")
	f.Add(uint8(1), "alice", "SECRETPASSWORD")
	f.Add(uint8(2), "SECRETPASSWORD-NO-COLON", "")
	f.Add(uint8(3), "SECRET-API-KEY-0123456789", "")
	f.Add(uint8(4), "SECRET-API-KEY-9876543210", "")
	f.Add(uint8(5), "session=SECRETCOOKIE", "")
	f.Fuzz(func(t *testing.T, kind uint8, a, b string) {
		h := http.Header{}
		var secret string
		switch kind % 6 {
		case 0:
			h.Set("Authorization", "Bearer "+a)
			secret = strings.TrimSpace(a)
		case 1:
			if strings.Contains(a, ":") || strings.Contains(a, b) {
				return // the password is not separable from the user
			}
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a+":"+b)))
			secret = b
		case 2:
			if strings.Contains(a, ":") {
				return
			}
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a)))
			secret = a
		case 3:
			h["X-Api-Key"] = []string{a}
			secret = a
		case 4:
			h["Apikey"] = []string{a}
			secret = a
		case 5:
			h["Cookie"] = []string{a}
			secret = a
		}
		c := identity.FromRequest(h)
		if c.Type == "" {
			t.Fatalf("FromRequest(%q) = %+v: no type", h, c)
		}
		if len(secret) < 13 { // a 12-hex-digit hash may contain a short one by chance
			return
		}
		for _, field := range []string{c.UUID, c.Name, c.Type} {
			if strings.Contains(field, secret) {
				t.Fatalf("FromRequest(%q) = %+v: returns the secret %q", h, c, secret)
			}
		}
	})
}
