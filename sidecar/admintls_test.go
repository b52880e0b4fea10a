package sidecar_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// TestClusterTLSPods: pods whose admin ports serve HTTPS with a
// certificate naming only the headless Service's name, and that list
// each other as dns+https peers with the CA: the cluster answer holds
// every pod's events, the token crossing only TLS; plain HTTP to the
// admin port gets no answer; a renewed certificate is served without a
// restart.
func TestClusterTLSPods(t *testing.T) {
	ca := sidecartest.NewCA(t)
	secret := t.TempDir()
	caFile, certFile, keyFile := ca.Secret(t, secret, 2, "trailcar-admin.test")
	d := startDNS(t, "trailcar-admin.test")
	d.set("127.0.0.2", "127.0.0.3")
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	_, port, _ := net.SplitHostPort(sidecartest.FreeAddr(t))
	var pods []*sidecartest.Sidecar
	for i, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		cfg := sidecartest.WithToken(t, sidecartest.Config(t, up.URL), "tok")
		cfg.Host = fmt.Sprintf("pod-%d", i)
		cfg.Admin.Listen = ip + ":" + port
		cfg.Admin.TLSCertFile, cfg.Admin.TLSKeyFile = certFile, keyFile
		cfg.Cluster.Peers = []string{"dns+https://trailcar-admin.test:" + port}
		cfg.Cluster.CAFile = caFile
		pods = append(pods, sidecartest.Start(t, cfg, func(o *sidecar.Options) { o.Resolver = d.resolver() }))
		sidecartest.Do(t, "POST", pods[i].ProxyURL()+fmt.Sprintf("/api/v3/widgets/%d", i), "")
	}
	pool := ca.Pool()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "trailcar-admin.test"}}}
	get := func(u string) (int, string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if !strings.HasPrefix(pods[0].AdminURL(), "https://") {
		t.Fatalf("AdminURL %s", pods[0].AdminURL())
	}
	sidecartest.Eventually(t, "both pods' events through pod-0", func() bool {
		code, body := get(pods[0].AdminURL() + "/api/v3/events?type=http&method=POST")
		var p clusterPage
		if code != 200 || json.Unmarshal([]byte(body), &p) != nil || p.Partial || len(p.Peers) != 1 {
			return false
		}
		return len(p.Results) == 2 && p.Peers[0].URL == "https://127.0.0.3:"+port
	})

	// Plain HTTP is not served: the token never crosses in clear.
	if resp, err := http.Get("http://127.0.0.2:" + port + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on a TLS admin port")
		}
	}

	// A renewed certificate (another serial) is served at the next
	// handshake.
	ca.Secret(t, secret, 3, "trailcar-admin.test")
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(certFile, later, later)
	os.Chtimes(keyFile, later, later)
	conn, err := tls.Dial("tcp", "127.0.0.2:"+port, &tls.Config{RootCAs: pool, ServerName: "trailcar-admin.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != 3 {
		t.Errorf("serial %d after renewal, want 3", got)
	}
}
