// Package cluster lets one trailcar answer for every pod (docs/cluster.md): it finds the peers (static admin URLs, or every
// address of a dns+http or dns+https name, looked up at each query), asks
// them in parallel with scope=local and the caller's Authorization, all
// within one deadline and one byte budget per answer (Query), and merges
// their event pages newest first under a cursor that resumes every pod
// where it stopped.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DNS schemes name a peer set by DNS: every A/AAAA record of the name is
// a peer at the port, asked by IP (with TLS server name NAME for
// dns+https).
const (
	dnsScheme    = "dns+http"
	dnsTLSScheme = "dns+https"
)

// CheckPeer checks one cluster.peers entry.
func CheckPeer(p string) error {
	u, err := url.Parse(p)
	if err != nil {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "http", "https", dnsScheme, dnsTLSScheme:
	default:
		return fmt.Errorf("scheme %q: want http://, https://, dns+http://NAME:PORT or dns+https://NAME:PORT", u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return errors.New("want the admin port's base URL (scheme, host, port; no path, query or user)")
	}
	if u.Scheme == dnsScheme || u.Scheme == dnsTLSScheme {
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return fmt.Errorf("%s wants NAME:PORT", u.Scheme)
		}
	}
	return nil
}

// Options configure a Cluster.
type Options struct {
	Peers   []string
	Timeout time.Duration
	// Self reports whether host:port is this process's admin port (it is
	// not asked).
	Self func(hostport string) bool
	// Resolver looks up dns+http and dns+https names; nil is
	// net.DefaultResolver.
	Resolver *net.Resolver
	// CA verifies https and dns+https peers' certificates
	// (cluster.ca_file, LoadCA); nil is the system's roots.
	CA *x509.CertPool
	// Client asks the peers, in Ask and Open alike; nil is a client of
	// its own: dials bounded by the timeout, TLS verified with CA (a
	// dns+https peer's certificate must name NAME), no proxy from the
	// environment, no redirect followed.
	Client *http.Client
	// PeerStates is trailcar_cluster_peers{state}; PeerRequests
	// trailcar_cluster_peer_requests_total{result}. Either may be nil.
	PeerStates   *prometheus.GaugeVec
	PeerRequests *prometheus.CounterVec
}

// Cluster asks the peers.
type Cluster struct {
	opts Options
	// tlsNames maps a dns+https peer's IP:port to the NAME its
	// certificate must name (set at each lookup).
	tlsNames sync.Map
	// all is the budget of every query being built (AllQueriesBytes).
	all *Budget
}

// New checks the peers and returns the cluster.
func New(opts Options) (*Cluster, error) {
	for _, p := range opts.Peers {
		if err := CheckPeer(p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	c := &Cluster{all: NewBudget(AllQueriesBytes)}
	if opts.Client == nil {
		// No Proxy: peers are asked directly, whatever HTTP_PROXY says
		// (a proxy for the app's outbound calls is no way to the pod next
		// door, and would see every caller's token).
		dialer := &net.Dialer{Timeout: opts.Timeout}
		tr := &http.Transport{
			DialContext:         dialer.DialContext,
			DialTLSContext:      c.dialTLS(dialer, opts.CA),
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
		}
		opts.Client = &http.Client{
			Transport: tr,
			// A peer answers itself; a redirect is not followed anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Self == nil {
		opts.Self = func(string) bool { return false }
	}
	if opts.PeerStates != nil {
		opts.PeerStates.WithLabelValues("up")
		opts.PeerStates.WithLabelValues("down")
	}
	if opts.PeerRequests != nil {
		for _, r := range []string{"ok", "error", "timeout"} {
			opts.PeerRequests.WithLabelValues(r)
		}
	}
	c.opts = opts
	return c, nil
}

// dialTLS dials a peer over TLS, verified with ca: by the name a
// dns+https peer was found under (its certificate must name it, though
// it is asked by IP), else by the URL's host.
func (c *Cluster) dialTLS(dialer *net.Dialer, ca *x509.CertPool) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		name, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if n, ok := c.tlsNames.Load(addr); ok {
			name = n.(string)
		}
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(raw, &tls.Config{RootCAs: ca, ServerName: name, MinVersion: tls.VersionTLS12})
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return conn, nil
	}
}

// Timeout bounds one cluster answer (Query), and the wait for a relayed
// answer's head (Open).
func (c *Cluster) Timeout() time.Duration { return c.opts.Timeout }

// PeerState is how one peer answered: in every cluster answer.
type PeerState struct {
	URL    string `json:"url"`
	Host   string `json:"host,omitempty"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	TookMS int64  `json:"took_ms"`
}

// Peers resolves the peers now: their base URLs, without this process,
// each once; and the states of names that did not resolve.
func (c *Cluster) Peers(ctx context.Context) ([]string, []PeerState) {
	var urls []string
	var failed []PeerState
	seen := map[string]bool{}
	add := func(base string, hostport string) {
		if c.opts.Self(hostport) || seen[base] {
			return
		}
		seen[base] = true
		urls = append(urls, base)
	}
	for _, p := range c.opts.Peers {
		u, _ := url.Parse(p)
		scheme := "http"
		switch u.Scheme {
		case dnsTLSScheme:
			scheme = "https"
		case dnsScheme:
		default:
			add(u.Scheme+"://"+u.Host, u.Host)
			continue
		}
		name, port, _ := net.SplitHostPort(u.Host)
		lctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		addrs, err := c.opts.Resolver.LookupHost(lctx, name)
		cancel()
		if err != nil {
			failed = append(failed, PeerState{URL: p, Error: "lookup: " + err.Error()})
			continue
		}
		slices.Sort(addrs)
		for _, a := range addrs {
			hp := net.JoinHostPort(a, port)
			if scheme == "https" {
				c.tlsNames.Store(hp, name)
			}
			add(scheme+"://"+hp, hp)
		}
	}
	return urls, failed
}

// describe says why a request failed, "timeout" first.
func describe(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// countRequests counts the requests to peers by result.
func (c *Cluster) countRequests(states []PeerState) {
	if c.opts.PeerRequests == nil {
		return
	}
	for _, s := range states {
		result := "ok"
		switch {
		case s.OK:
		case s.Error == "timeout":
			result = "timeout"
		default:
			result = "error"
		}
		c.opts.PeerRequests.WithLabelValues(result).Inc()
	}
}

// Report sets the peers' states (up, down) of a whole query.
func (c *Cluster) Report(states []PeerState) {
	if c.opts.PeerStates == nil {
		return
	}
	up, down := 0, 0
	for _, s := range states {
		if s.OK {
			up++
		} else {
			down++
		}
	}
	c.opts.PeerStates.WithLabelValues("up").Set(float64(up))
	c.opts.PeerStates.WithLabelValues("down").Set(float64(down))
}

// Partial reports whether any peer failed.
func Partial(states []PeerState) bool {
	for _, s := range states {
		if !s.OK {
			return true
		}
	}
	return false
}

// SelfCheck returns a Self function for an admin listener at addr: a
// host:port is this process when the port is addr's and the host is
// addr's IP, or, when addr listens on every address, any of this
// machine's addresses (or a loopback one).
func SelfCheck(addr net.Addr) func(hostport string) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return func(string) bool { return false }
	}
	own, _ := netip.AddrFromSlice(tcp.IP)
	own = own.Unmap()
	port := fmt.Sprint(tcp.Port)
	// This machine's addresses, looked up once (not at every query).
	var mine []netip.Addr
	if own.IsUnspecified() {
		if ifaddrs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range ifaddrs {
				if n, ok := ia.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(n.IP); ok {
						mine = append(mine, ip.Unmap())
					}
				}
			}
		}
	}
	return func(hostport string) bool {
		host, p, err := net.SplitHostPort(hostport)
		if err != nil || p != port {
			return false
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return host == "localhost" && (own.IsLoopback() || own.IsUnspecified())
		}
		a = a.Unmap()
		if !own.IsUnspecified() {
			return a == own
		}
		return a.IsLoopback() || slices.Contains(mine, a)
	}
}

// Auth is the header a peer is asked with: the caller's Authorization
// (every pod mounts the same token), and accept when set.
func Auth(r *http.Request, accept string) http.Header {
	h := http.Header{}
	if v := r.Header.Get("Authorization"); v != "" {
		h.Set("Authorization", v)
	}
	if accept != "" {
		h.Set("Accept", accept)
	}
	return h
}
