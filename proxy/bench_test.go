package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/identity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rotate"
	"github.com/trailcar/trailcar/rules"
)

var benchBody = []byte(`{"ok":true,"service":"bench-upstream","note":"fixed body so every target moves the same bytes"}` + "\n")

// BenchmarkProxy compares a bare httputil.ReverseProxy with trailcar's
// proxy tracking every request into a real rotating file, both driven
// in-process (no client sockets) against a real upstream on loopback, so
// the difference is trailcar's own cost per request.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Write(benchBody)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)

	b.Run("bare", func(b *testing.B) {
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = proxy.DefaultTransport()
		runProxyBench(b, rp)
	})
	b.Run("trailcar", func(b *testing.B) { benchTrailcar(b, target, nil) })
	// A capture rule on every POST: GETs must cost what they did.
	b.Run("trailcar-capture-posts", func(b *testing.B) {
		benchTrailcar(b, target, []rules.CaptureRule{{Path: "/**", Methods: []string{"POST"}, Request: true, Response: true}})
	})
}

func benchTrailcar(b *testing.B, target *url.URL, capture []rules.CaptureRule) {
	{
		m := metrics.Discard()
		f, err := rotate.Open(rotate.Options{Dir: b.TempDir(), Filename: "audit.log", MaxSizeMB: 2, MaxFiles: 5})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		w := audit.New(audit.Options{File: f, Metrics: m, Service: "console", Host: "bench"})
		defer w.Close(context.Background())
		r, err := rules.Compile(rules.Policy{Service: "console", Always: []string{"/**"}, ActionTemplate: "{service}.{resource}.{verb}", Capture: capture})
		if err != nil {
			b.Fatal(err)
		}
		trusted, _ := identity.ParseTrusted([]string{"loopback"})
		p, err := proxy.New(proxy.Options{Upstream: target, Rules: r, Sink: w, Metrics: m, Trusted: trusted, RedactFields: []string{"password"}})
		if err != nil {
			b.Fatal(err)
		}
		runProxyBench(b, p)
	}
}

func runProxyBench(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/bench/item?id=1", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
			io.Copy(io.Discard, rec.Body)
		}
	})
}
