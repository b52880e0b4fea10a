package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"os"
	"strings"
	"sync"
)

// MinHMACKey is the shortest key Hasher takes: a shorter one could be
// guessed as easily as the weak keys it is there to hide.
const MinHMACKey = 16

// Hasher reduces an opaque token or API key to its creds.uuid
// (docs/events.md "creds and address"): the first 12 hex digits of
// HMAC-SHA256(key, secret) when it has a key, else of SHA-256(secret).
// Without the key a weak secret is found by hashing guesses and comparing
// with the trail; with it, only who holds the key can (trailcar hash, as
// Vault's audit-hash). A nil *Hasher has no key. Safe for concurrent use.
type Hasher struct {
	key []byte
	// Where credentials are looked for besides Authorization, X-API-Key
	// and apikey (identity.query_tokens, identity.key_headers); set by
	// New, else DefaultQueryTokens and no more headers.
	sources     bool
	queryTokens []string
	keyHeaders  []string
	// macs holds *macState keyed with key: making one allocates, and a
	// request carrying a token is the common case.
	macs sync.Pool
}

// macState is an HMAC keyed once, with room for its input and output so
// that a hash allocates nothing but its text.
type macState struct {
	mac hash.Hash
	in  []byte
	sum [sha256.Size]byte
}

// NewHasher returns a Hasher keyed with key; nil or empty: no key.
func NewHasher(key []byte) *Hasher {
	if len(key) == 0 {
		return nil
	}
	return New(key, DefaultQueryTokens, nil)
}

// DefaultQueryTokens are identity.query_tokens' default: the query
// parameters that carry a bearer token.
var DefaultQueryTokens = []string{"token", "access_token"}

// New returns a Hasher keyed with key (nil: no key) that also takes a
// bearer token from the query parameters queryTokens (names compared
// case-insensitively) and an API key from the headers keyHeaders.
func New(key []byte, queryTokens, keyHeaders []string) *Hasher {
	h := &Hasher{sources: true, queryTokens: append([]string(nil), queryTokens...)}
	for _, k := range keyHeaders {
		h.keyHeaders = append(h.keyHeaders, http.CanonicalHeaderKey(k))
	}
	if len(key) > 0 {
		h.key = append([]byte(nil), key...)
		h.macs.New = func() any { return &macState{mac: hmac.New(sha256.New, h.key)} }
	}
	return h
}

// QueryTokens are the query parameters h takes a token from.
func (h *Hasher) QueryTokens() []string {
	if h == nil || !h.sources {
		return DefaultQueryTokens
	}
	return h.queryTokens
}

func (h *Hasher) moreKeyHeaders() []string {
	if h == nil {
		return nil
	}
	return h.keyHeaders
}

// LoadHMACKey reads a key file: its content, without surrounding
// whitespace (so a trailing newline is not part of the key), at least
// MinHMACKey bytes.
func LoadHMACKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key := strings.TrimSpace(string(data))
	if len(key) < MinHMACKey {
		return nil, fmt.Errorf("want a key of at least %d bytes (e.g. head -c 32 /dev/urandom | base64 > FILE), got %d", MinHMACKey, len(key))
	}
	return []byte(key), nil
}

// Hash is the creds.uuid of secret.
func (h *Hasher) Hash(secret string) string {
	if h == nil || h.key == nil {
		sum := sha256.Sum256([]byte(secret))
		return hex.EncodeToString(sum[:6])
	}
	st := h.macs.Get().(*macState)
	st.mac.Reset()
	st.in = append(st.in[:0], secret...)
	st.mac.Write(st.in)
	st.mac.Sum(st.sum[:0])
	out := hex.EncodeToString(st.sum[:6])
	if cap(st.in) > 4<<10 {
		st.in = nil // an odd huge key is not kept for the next request
	}
	h.macs.Put(st)
	return out
}

// Keyed reports whether h has a key.
func (h *Hasher) Keyed() bool { return h != nil }
