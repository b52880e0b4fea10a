package identity_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestHasherKnownAnswer: RFC 4231 test case 2 (key "Jefe"), and without a
// key the bare SHA-256 prefix ShortHash has always given.
func TestHasherKnownAnswer(t *testing.T) {
	h := identity.NewHasher([]byte("Jefe"))
	if got := h.Hash("what do ya want for nothing?"); got != "5bdcc146bf60" {
		t.Fatalf("HMAC: %s", got)
	}
	// SHA-256("abc") = ba7816bf8f01cfea…
	if got := identity.NewHasher(nil).Hash("abc"); got != "ba7816bf8f01" || identity.ShortHash("abc") != got {
		t.Fatalf("no key: %s", got)
	}
}

// TestHasherAgainstCryptoHMAC: the pooled states give what a fresh
// crypto/hmac gives, for many values from many goroutines at once.
func TestHasherAgainstCryptoHMAC(t *testing.T) {
	key := []byte("0123456789abcdef-trail-key")
	h := identity.NewHasher(key)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				v := strings.Repeat("k", i%70) + string(rune('a'+g))
				mac := hmac.New(sha256.New, key)
				mac.Write([]byte(v))
				if want := hex.EncodeToString(mac.Sum(nil))[:12]; h.Hash(v) != want {
					t.Errorf("%q: %s, want %s", v, h.Hash(v), want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestKeyedFromRequest: with a key, opaque tokens and API keys get the
// keyed hash; a JWT's sub, Basic's user and the rest are as without.
func TestKeyedFromRequest(t *testing.T) {
	h := identity.NewHasher([]byte("a-key-of-sixteen-bytes"))
	tests := []struct {
		name   string
		header http.Header
		want   event.Creds
	}{
		{"opaque bearer", http.Header{"Authorization": {"Bearer s3cr3t-token"}}, event.Creds{UUID: h.Hash("s3cr3t-token"), Type: "token"}},
		{"api key", http.Header{"X-Api-Key": {"k-123"}}, event.Creds{UUID: h.Hash("k-123"), Type: "apikey"}},
		{"apikey", http.Header{"Apikey": {"k-456"}}, event.Creds{UUID: h.Hash("k-456"), Type: "apikey"}},
		{"jwt", http.Header{"Authorization": {"Bearer " + jwt(`{"sub":"u-1","preferred_username":"alice"}`)}}, event.Creds{UUID: "u-1", Name: "alice", Type: "token"}},
		{"none", http.Header{}, event.Creds{Type: "public-access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.FromRequest(tt.header); got != tt.want {
				t.Fatalf("%+v, want %+v", got, tt.want)
			}
		})
	}
	if h.Hash("k-123") == identity.ShortHash("k-123") {
		t.Fatal("the keyed hash is the bare one")
	}
}

func TestLoadHMACKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, err := identity.LoadHMACKey(write("ok", "  0123456789abcdef0123\n"))
	if err != nil || string(key) != "0123456789abcdef0123" {
		t.Fatalf("%q, %v", key, err)
	}
	if _, err := identity.LoadHMACKey(write("short", "short-key\n")); err == nil || !strings.Contains(err.Error(), "at least 16 bytes") {
		t.Fatalf("a short key: %v", err)
	}
	if _, err := identity.LoadHMACKey(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("a missing file")
	}
}

// TestHashAllocations: the keyed hash costs what the bare one does, one
// allocation (the hex string), once the pool holds a state.
func TestHashAllocations(t *testing.T) {
	if sidecartest.RaceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	h := identity.NewHasher([]byte("a-key-of-sixteen-bytes"))
	h.Hash("warm")
	if n := testing.AllocsPerRun(1000, func() { h.Hash("s3cr3t-token") }); n > 1 {
		t.Fatalf("%.1f allocations a hash", n)
	}
}

func BenchmarkHash(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    *identity.Hasher
	}{{"sha256", nil}, {"hmac", identity.NewHasher([]byte("a-key-of-sixteen-bytes"))}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.h.Hash("0123456789abcdef0123456789abcdef")
			}
		})
	}
}
