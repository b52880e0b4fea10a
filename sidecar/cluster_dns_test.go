package sidecar_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// dnsServer is a real DNS server on 127.0.0.1 answering A queries for
// one name from a set that the test changes.
type dnsServer struct {
	mu    sync.Mutex
	name  string
	addrs []string
	srv   *dns.Server
}

func startDNS(t *testing.T, name string) *dnsServer {
	d := &dnsServer{name: dns.Fqdn(name)}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.srv = &dns.Server{PacketConn: pc, Handler: d}
	go d.srv.ActivateAndServe()
	t.Cleanup(func() { d.srv.Shutdown() })
	return d
}

func (d *dnsServer) set(addrs ...string) {
	d.mu.Lock()
	d.addrs = addrs
	d.mu.Unlock()
}

func (d *dnsServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	d.mu.Lock()
	for _, q := range req.Question {
		if q.Qtype == dns.TypeA && strings.EqualFold(q.Name, d.name) {
			for _, a := range d.addrs {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0}, A: net.ParseIP(a)})
			}
		}
	}
	d.mu.Unlock()
	w.WriteMsg(m)
}

// resolver asks only this server.
func (d *dnsServer) resolver() *net.Resolver {
	addr := d.srv.PacketConn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", addr)
	}}
}

// TestClusterDNSPeers: peers from a dns+http name served by a real DNS
// server; a record added and one removed between two queries change who
// is asked, and the pod itself (one of the records) is never asked.
func TestClusterDNSPeers(t *testing.T) {
	d := startDNS(t, "trailcar-admin.test")
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	port := sidecartest.FreeAddr(t)
	_, p, _ := net.SplitHostPort(port)
	var pods []*sidecartest.Sidecar
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		cfg := sidecartest.Config(t, up.URL)
		cfg.Host = fmt.Sprintf("pod-%d", i)
		cfg.Admin.Listen = ip + ":" + p
		cfg.Cluster.Peers = []string{"dns+http://trailcar-admin.test:" + p}
		cfg.Cluster.Timeout = time.Second
		pods = append(pods, sidecartest.Start(t, cfg, func(o *sidecar.Options) { o.Resolver = d.resolver() }))
		sidecartest.Do(t, "POST", pods[i].ProxyURL()+fmt.Sprintf("/api/v3/widgets/%d", i), "")
	}
	for _, pod := range pods {
		sidecartest.Eventually(t, "its event", func() bool { return len(sidecartest.OfType(pod.Lines(), "http")) == 1 })
	}
	hosts := func() (map[string]bool, []string) {
		code, _, body := sidecartest.Do(t, "GET", pods[0].AdminURL()+"/api/v3/events?type=http", "")
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		seen := map[string]bool{}
		for i := range pods {
			if strings.Contains(body, fmt.Sprintf(`"host":"pod-%d"`, i)) {
				seen[fmt.Sprintf("pod-%d", i)] = true
			}
		}
		var asked []string
		for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
			if strings.Contains(body, `"url":"http://`+ip+":"+p+`"`) {
				asked = append(asked, ip)
			}
		}
		return seen, asked
	}
	d.set("127.0.0.2", "127.0.0.3")
	seen, asked := hosts()
	if len(seen) != 2 || !seen["pod-0"] || !seen["pod-1"] || len(asked) != 1 || asked[0] != "127.0.0.3" {
		t.Fatalf("records .2 .3: events of %v, asked %v", seen, asked)
	}
	d.set("127.0.0.2", "127.0.0.4") // one added, one removed
	seen, asked = hosts()
	if len(seen) != 2 || !seen["pod-0"] || !seen["pod-2"] || len(asked) != 1 || asked[0] != "127.0.0.4" {
		t.Fatalf("records .2 .4: events of %v, asked %v", seen, asked)
	}
}
