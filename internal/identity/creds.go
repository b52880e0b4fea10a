// Package identity works out who made a request and from where (docs/events.md "creds and address"),
// from request headers and the connection, without verifying anything: the
// app behind the proxy verifies credentials; the audit trail records them.
// Secrets never leave this package: tokens and keys are reduced to a short
// hash or to the name they carry.
package identity

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
)

// Credential types written in creds.type.
const (
	TypeToken        = "token"
	TypeBasic        = "basic"
	TypeAPIKey       = "apikey"
	TypeUser         = "user"
	TypePublicAccess = "public-access"
	TypeApp          = "app"
)

// FromRequest returns the creds a request carries: a Bearer token (a JWT's
// claims give name and uuid; any other token gives only a hash as uuid),
// Basic auth (the user name), an API key in X-API-Key or apikey (a hash as
// uuid, never the key), a Cookie (a session: type user), or none
// (public-access). Unknown fields are left empty; the encoder writes "-".
// Hashes are unkeyed: Hasher.FromRequest keys them.
func FromRequest(h http.Header) event.Creds { return (*Hasher)(nil).FromRequest(h) }

// FromRequest is the package's FromRequest with the hashes of opaque
// tokens and API keys made by hs (keyed when it has a key), and hs's key
// headers. It sees no query string: FromHTTP does.
func (hs *Hasher) FromRequest(h http.Header) event.Creds { return hs.from(h, "") }

// FromHTTP is FromRequest that also takes a bearer token from one of
// hs.QueryTokens() in r's query string, when no Authorization header or
// API key header is sent (Jupyter's ?token=).
func (hs *Hasher) FromHTTP(r *http.Request) event.Creds { return hs.from(r.Header, r.URL.RawQuery) }

func (hs *Hasher) from(h http.Header, rawQuery string) event.Creds {
	if auth := headerValue(h, "Authorization"); auth != "" {
		scheme, cred, _ := strings.Cut(auth, " ")
		cred = strings.TrimSpace(cred)
		switch {
		case (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) && cred != "":
			// "token" is the scheme of Jupyter, GitHub and Django REST.
			return hs.bearer(cred)
		case strings.EqualFold(scheme, "Basic") && cred != "":
			return basic(cred)
		}
	}
	for _, name := range [...]string{"X-Api-Key", "Apikey"} {
		if key := headerValue(h, name); key != "" {
			return event.Creds{UUID: hs.Hash(key), Type: TypeAPIKey}
		}
	}
	for _, name := range hs.moreKeyHeaders() {
		if key := headerValue(h, name); key != "" {
			return event.Creds{UUID: hs.Hash(key), Type: TypeAPIKey}
		}
	}
	if headerValue(h, "Authorization") == "" && rawQuery != "" {
		if tok := queryValue(rawQuery, hs.QueryTokens()); tok != "" {
			return hs.bearer(tok)
		}
	}
	if headerValue(h, "Cookie") != "" {
		return event.Creds{Type: TypeUser}
	}
	return event.Creds{Type: TypePublicAccess}
}

// headerValue is h.Get for a canonical key, without canonicalising.
func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ShortHash is the first 12 hex digits of the SHA-256 of a secret: enough
// to tell keys apart in the trail, useless for using the key. It is the
// creds.uuid of a secret without identity.hmac_key_file (Hasher.Hash).
func ShortHash(secret string) string { return (*Hasher)(nil).Hash(secret) }

type claims struct {
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	Name              string `json:"name"`
	Sub               string `json:"sub"`
}

// bearer reads a JWT's claims (not verified) or, for an opaque token, keeps
// only its hash.
func (hs *Hasher) bearer(token string) event.Creds {
	c := event.Creds{Type: TypeToken}
	parts := strings.Split(token, ".")
	if len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "=")); err == nil {
			var cl claims
			if json.Unmarshal(payload, &cl) == nil {
				c.UUID = cl.Sub
				for _, n := range [...]string{cl.PreferredUsername, cl.Email, cl.Name, cl.Sub} {
					if n != "" {
						c.Name = n
						break
					}
				}
				if c.UUID != "" || c.Name != "" {
					return c
				}
			}
		}
	}
	c.UUID = hs.Hash(token)
	return c
}

func basic(cred string) event.Creds {
	c := event.Creds{Type: TypeBasic}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return c
	}
	// Without a colon the credential is malformed (RFC 7617: user-id ":"
	// password), and may be a bare secret: nothing of it is kept.
	if user, _, ok := strings.Cut(string(raw), ":"); ok {
		c.Name = user
	}
	return c
}

// Override applies the identity the upstream states in its response headers
// (X-Audit-User-Id, X-Audit-User-Name, X-Audit-Auth-Type); they win.
func Override(c event.Creds, userID, userName, authType string) event.Creds {
	if userID != "" {
		c.UUID = userID
	}
	if userName != "" {
		c.Name = userName
	}
	if authType != "" {
		c.Type = authType
	}
	return c
}

// queryValue is the first non-empty value, unescaped, of a parameter of
// rawQuery whose name is one of names (case-insensitively), without
// parsing the whole query.
func queryValue(rawQuery string, names []string) string {
	for rest := rawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		name, value, _ := strings.Cut(pair, "=")
		if value == "" {
			continue
		}
		for _, n := range names {
			if strings.EqualFold(name, n) {
				if v, err := url.QueryUnescape(value); err == nil && v != "" {
					return v
				}
			}
		}
	}
	return ""
}
