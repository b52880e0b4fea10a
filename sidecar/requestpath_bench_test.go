package sidecar_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/proxy"
)

var pathBody = []byte(`{"ok":true,"service":"bench-upstream","note":"fixed body so every target moves the same bytes"}` + "\n")

// BenchmarkRequestPath is the whole request path in one process, over
// loopback sockets: a keep-alive client → the proxy → a real upstream, as
// the proxy bench drives it, for two proxies: go-pooled (a plain
// httputil.ReverseProxy with a BufferPool and SetXForwarded, the tuned Go
// baseline) and trailcar (a real sidecar, every request tracked into a
// real file). allocs/op counts the client's and the upstream's too, the
// same for both: trailcar's own allocations per audited request are the
// difference (docs/performance.md "Proxy"). Race-clean: go test -race runs it
// with -benchtime 1x.
//
//	go test ./sidecar -run '^$' -bench RequestPath -benchmem -count 6 | benchstat -
func BenchmarkRequestPath(b *testing.B) {
	up := sidecartest.Upstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Write(pathBody)
	}))
	target, _ := url.Parse(up.URL)

	b.Run("go-pooled", func(b *testing.B) {
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:  proxy.DefaultTransport(),
			BufferPool: &pool{},
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: rp}
		go srv.Serve(ln)
		defer srv.Close()
		drive(b, "http://"+ln.Addr().String())
	})
	b.Run("trailcar", func(b *testing.B) {
		cfg := sidecartest.Config(b, up.URL)
		cfg.ActivityTracker.Track.Always = []string{"/**"}
		cfg.ActivityTracker.IgnoreRoutes = nil
		cfg.ActivityTracker.MaxFiles = 5
		s := sidecartest.Start(b, cfg)
		drive(b, s.ProxyURL())
		b.StopTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
	})
}

// drive sends GET /bench/item?id=1 b.N times from keep-alive clients in
// parallel.
func drive(b *testing.B, base string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	u := base + "/bench/item?id=1"
	// Warm the connections and pools.
	for range 50 {
		get(b, c, u)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			get(b, c, u)
		}
	})
}

func get(b *testing.B, c *http.Client, u string) {
	resp, err := c.Get(u)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("status %d", resp.StatusCode)
	}
}

type pool struct{ p sync.Pool }

func (p *pool) Get() []byte {
	if b, ok := p.p.Get().(*[32 << 10]byte); ok {
		return b[:]
	}
	return make([]byte, 32<<10)
}

func (p *pool) Put(b []byte) {
	if len(b) == 32<<10 {
		p.p.Put((*[32 << 10]byte)(b))
	}
}
