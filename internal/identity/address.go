package identity

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Named ranges accepted in trust_proxy besides CIDRs.
var namedRanges = map[string][]string{
	"loopback":    {"127.0.0.0/8", "::1/128"},
	"linklocal":   {"169.254.0.0/16", "fe80::/10"},
	"uniquelocal": {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"},
}

// Trusted is the set of proxies whose X-Forwarded-For is believed.
// The zero value trusts no one.
type Trusted struct {
	prefixes []netip.Prefix
}

// EntryError is a trust_proxy entry that is neither a known name, a CIDR
// nor an address: Index is its place in the list.
type EntryError struct {
	Index int
	Entry string
	Err   error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("trust_proxy[%d]: %q: %v", e.Index, e.Entry, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

var errBadEntry = errors.New("want loopback, linklocal, uniquelocal or a CIDR")

// ParseTrusted parses trust_proxy entries: loopback, linklocal, uniquelocal,
// or CIDRs (a bare address is a /32 or /128). The error is an *EntryError.
func ParseTrusted(entries []string) (Trusted, error) {
	var t Trusted
	for i, e := range entries {
		if named, ok := namedRanges[strings.ToLower(e)]; ok {
			for _, c := range named {
				t.prefixes = append(t.prefixes, netip.MustParsePrefix(c))
			}
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		return Trusted{}, &EntryError{Index: i, Entry: e, Err: errBadEntry}
	}
	return t, nil
}

// Contains reports whether a is a trusted proxy. A zone is ignored: a
// link-local peer's address carries one (fe80::1%eth0), and
// netip.Prefix.Contains never matches an address with a zone.
func (t Trusted) Contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client's address: the peer's IP, or, when the peer
// is a trusted proxy, the rightmost X-Forwarded-For address that is not
// itself trusted (the leftmost one when all are). Entries that are not
// addresses are skipped. xff is every X-Forwarded-For header line.
func (t Trusted) ClientIP(remoteAddr string, xff []string) string {
	peerText := hostOnly(remoteAddr)
	peer, err := netip.ParseAddr(peerText)
	if err != nil || len(xff) == 0 || !t.Contains(peer) {
		return peerText
	}
	var leftmost string
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				entry, list = list, ""
			}
			entry = hostOnly(strings.TrimSpace(entry))
			a, err := netip.ParseAddr(entry)
			if err != nil {
				continue
			}
			// The zone of an address another host wrote is meaningless
			// here, and free text the client chose: dropped.
			a = a.Unmap().WithZone("")
			if !t.Contains(a) {
				return a.String()
			}
			leftmost = a.String()
		}
	}
	if leftmost != "" {
		return leftmost
	}
	return peerText
}

// hostOnly strips a port and brackets: "[::1]:80" -> "::1", "1.2.3.4:5" ->
// "1.2.3.4"; anything else is returned as is.
func hostOnly(s string) string {
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
}
