// Package cluster lets one trailcar answer for every pod (docs/cluster.md): it finds the peers (static admin URLs, or every
// address of a dns+http name, looked up at each query), asks them in
// parallel with scope=local and the caller's Authorization, each within
// the timeout, and merges their event pages newest first under a cursor
// that resumes every pod where it stopped.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// dnsScheme names a peer set by DNS: every A/AAAA record of the name is a
// peer at the port.
const dnsScheme = "dns+http"

// CheckPeer checks one cluster.peers entry.
func CheckPeer(p string) error {
	u, err := url.Parse(p)
	if err != nil {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "http", "https", dnsScheme:
	default:
		return fmt.Errorf("scheme %q: want http://, https:// or dns+http://NAME:PORT", u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return errors.New("want the admin port's base URL (scheme, host, port; no path, query or user)")
	}
	if u.Scheme == dnsScheme {
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return errors.New("dns+http wants NAME:PORT")
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
	// Resolver looks up dns+http names; nil is net.DefaultResolver.
	Resolver *net.Resolver
	// Client asks the peers, in Ask and Open alike; nil is a client of
	// its own: dials bounded by the timeout, no proxy from the
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
	if opts.Client == nil {
		// No Proxy: peers are asked directly, whatever HTTP_PROXY says
		// (a proxy for the app's outbound calls is no way to the pod next
		// door, and would see every caller's token).
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
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
	return &Cluster{opts: opts}, nil
}

// Timeout is the per-peer bound.
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
		if u.Scheme != dnsScheme {
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
			add("http://"+hp, hp)
		}
	}
	return urls, failed
}

// maxAnswer bounds what is read of one peer's answer: an honest page is
// at most 8 MiB of events (the store's page budget) and its cursors.
const maxAnswer = 10 << 20

// Answer is one peer's answer, read whole within the timeout.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Ask sends method path?q to every peer in parallel, with header (the
// caller's Authorization, an Accept), each bounded by the timeout, and
// returns the states and the answers (nil where a peer failed) of every
// peer asked, in the order of Peers. A peer answering other than 2xx is
// a failure, except the statuses listed in accept.
func (c *Cluster) Ask(ctx context.Context, method, path string, q url.Values, header http.Header, accept ...int) ([]PeerState, []*Answer) {
	urls, failed := c.Peers(ctx)
	states, answers := c.AskPeers(ctx, urls, method, path, q, header, accept...)
	states = append(states, failed...)
	answers = append(answers, make([]*Answer, len(failed))...)
	c.Report(states)
	return states, answers
}

// AskPeers is Ask of peers already found (Peers): it counts the requests
// but leaves Report to the caller.
func (c *Cluster) AskPeers(ctx context.Context, urls []string, method, path string, q url.Values, header http.Header, accept ...int) ([]PeerState, []*Answer) {
	states := make([]PeerState, len(urls))
	answers := make([]*Answer, len(urls))
	var wg sync.WaitGroup
	for i, base := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], answers[i] = c.ask(ctx, base, method, path, q, header, accept)
		}()
	}
	wg.Wait()
	c.countRequests(states)
	return states, answers
}

// AskOne asks one peer, as Ask does, and counts the answer.
func (c *Cluster) AskOne(ctx context.Context, base, method, path string, q url.Values, header http.Header) (PeerState, *Answer) {
	st, a := c.ask(ctx, base, method, path, q, header, nil)
	c.countRequests([]PeerState{st})
	return st, a
}

func (c *Cluster) ask(ctx context.Context, base, method, path string, q url.Values, header http.Header, accept []int) (st PeerState, a *Answer) {
	st.URL = base
	start := time.Now()
	defer func() { st.TookMS = time.Since(start).Milliseconds() }() // every way out, failures too
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		st.Error = err.Error()
		return st, nil
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		st.Error = describe(ctx, err)
		return st, nil
	}
	defer resp.Body.Close()
	var body []byte
	if n := resp.ContentLength; n >= 0 && n <= maxAnswer {
		body = make([]byte, n) // read whole, without growing
		_, err = io.ReadFull(resp.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	}
	if err != nil {
		st.Error = describe(ctx, err)
		return st, nil
	}
	if len(body) > maxAnswer {
		st.Error = fmt.Sprintf("answer over %d MiB: not read", maxAnswer>>20)
		return st, nil
	}
	st.Host = resp.Header.Get("X-Trailcar-Host")
	if resp.StatusCode/100 != 2 && !slices.Contains(accept, resp.StatusCode) {
		st.Error = fmt.Sprintf("answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
		return st, nil
	}
	st.OK = true
	return st, &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}
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
