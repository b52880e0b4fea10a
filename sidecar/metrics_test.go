package sidecar_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// bigDetails is an X-Audit-Details object of about 16 KiB, so that a few
// dozen events fill a 1 MiB file.
var bigDetails = `{"blob":"` + strings.Repeat("x", 16<<10) + `"}`

// metricsUpstream answers by path: /big with large audit details, /missing
// 404, /forbidden 403, POST 201, else 200.
func metricsUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/big":
			w.Header().Set("X-Audit-Details", bigDetails)
			w.WriteHeader(http.StatusCreated)
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		case r.URL.Path == "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestMetricsAgreeWithTraffic drives known traffic through a real sidecar
// (rotating at 1 MiB, with a token and a webhook receiver), stops it so
// that everything is written and delivered, and checks the counters against
// the requests sent and the files written.
func TestMetricsAgreeWithTraffic(t *testing.T) {
	up := metricsUpstream(t)
	rec := sidecartest.NewRecorder(t, http.StatusNoContent)
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.MaxSizeMB = 1
	cfg.ActivityTracker.MaxFiles = 0 // keep every file, so every line can be counted
	cfg = sidecartest.WithToken(t, cfg, "s3cret")
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Endpoints.EventLog.URL = rec.URL
	cfg.ActivityTracker.Queue, cfg.Webhooks.Queue = 5000, 50
	s := sidecartest.Start(t, cfg)
	proxy, admin := s.ProxyURL(), s.AdminURL()

	const big = 80 // 80 x 16 KiB: over 1 MiB, at least one rotation
	for range 3 {
		sidecartest.Do(t, "GET", proxy+"/api/v3/widgets", "")
	}
	sidecartest.Do(t, "GET", proxy+"/forbidden", "")
	for range 2 {
		sidecartest.Do(t, "POST", proxy+"/api/v3/widgets", `{"name":"w"}`)
	}
	sidecartest.Do(t, "DELETE", proxy+"/api/v3/widgets/missing", "")
	for range big {
		sidecartest.Do(t, "POST", proxy+"/big", "{}")
	}
	if status, _, body := sidecartest.Do(t, "POST", proxy+"/api/v3/events/widgets/w1", `{"action_verb":"create","http_code":200}`); status != 202 {
		t.Fatalf("client event: %d %s", status, body)
	}

	t.Run("metrics need no token, the API does", func(t *testing.T) {
		status, _, body := sidecartest.Do(t, "GET", admin+"/metrics", "")
		if status != http.StatusOK || !strings.Contains(body, "trailcar_http_requests_total") {
			t.Errorf("GET /metrics without a token: %d, want 200 with the metrics", status)
		}
		if status, _, _ := sidecartest.Do(t, "POST", admin+"/api/v3/notifications", `{"message":"m"}`); status != http.StatusUnauthorized {
			t.Errorf("notification without a token: %d, want 401", status)
		}
		if status, _, body := sidecartest.Do(t, "POST", admin+"/api/v3/notifications", `{"message":"m"}`, "Authorization", "Bearer s3cret"); status != http.StatusCreated {
			t.Errorf("notification with the token: %d %s, want 201", status, body)
		}
	})

	t.Run("http_requests_total by method and code", func(t *testing.T) {
		want := fmt.Sprintf(`
# HELP trailcar_http_requests_total Requests answered on the proxy port, by method and status code.
# TYPE trailcar_http_requests_total counter
trailcar_http_requests_total{code="200",method="GET"} 3
trailcar_http_requests_total{code="201",method="POST"} %d
trailcar_http_requests_total{code="202",method="POST"} 1
trailcar_http_requests_total{code="403",method="GET"} 1
trailcar_http_requests_total{code="404",method="DELETE"} 1
`, 2+big)
		if err := testutil.GatherAndCompare(s.Reg, strings.NewReader(want), "trailcar_http_requests_total"); err != nil {
			t.Error(err)
		}
	})

	t.Run("request duration histogram counts every request", func(t *testing.T) {
		mf := sidecartest.Family(t, s.Reg, "trailcar_http_request_duration_seconds")
		if mf == nil {
			t.Fatal("no trailcar_http_request_duration_seconds")
		}
		want := map[string]uint64{"method=GET": 4, "method=POST": 3 + big, "method=DELETE": 1}
		for _, m := range mf.GetMetric() {
			if got, w := m.GetHistogram().GetSampleCount(), want[sidecartest.LabelKey(m)]; got != w {
				t.Errorf("%s: %d observations, want %d", sidecartest.LabelKey(m), got, w)
			}
			if m.GetHistogram().GetSampleSum() <= 0 && want[sidecartest.LabelKey(m)] > 0 {
				t.Errorf("%s: sum of durations %v, want > 0", sidecartest.LabelKey(m), m.GetHistogram().GetSampleSum())
			}
		}
	})

	t.Run("queue length gauges", func(t *testing.T) {
		for _, name := range []string{"trailcar_audit_queue_length", "trailcar_webhook_queue_length"} {
			if mf := sidecartest.Family(t, s.Reg, name); mf == nil || mf.GetMetric()[0].GetGauge() == nil {
				t.Errorf("no gauge %s", name)
			}
		}
	})

	t.Run("queue capacity gauges are the configured queues", func(t *testing.T) {
		for name, want := range map[string]float64{"trailcar_audit_queue_capacity": 5000, "trailcar_webhook_queue_capacity": 50} {
			mf := sidecartest.Family(t, s.Reg, name)
			if mf == nil || mf.GetMetric()[0].GetGauge() == nil {
				t.Errorf("no gauge %s", name)
				continue
			}
			if got := mf.GetMetric()[0].GetGauge().GetValue(); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
	})

	t.Run("promlint finds nothing", func(t *testing.T) {
		mfs, err := s.Reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	})

	s.Stop() // writes every event and delivers every webhook
	logged := s.Lines()

	t.Run("events_total equals the lines written", func(t *testing.T) {
		want := map[string]float64{}
		for _, e := range logged {
			typ := e.Type
			if event.IsSystem(typ) {
				typ = "system"
			}
			want["level="+e.Level+",outcome="+e.Outcome+",type="+typ]++
		}
		got := sidecartest.Counters(t, s.Reg, "trailcar_events_total")
		for k, v := range want {
			if got[k] != v {
				t.Errorf("events_total{%s} = %v, want %v (lines in the files)", k, got[k], v)
			}
		}
		var total float64
		for k, v := range got {
			total += v
			if v != want[k] {
				t.Errorf("events_total{%s} = %v, want %v", k, v, want[k])
			}
		}
		if int(total) != len(logged) {
			t.Errorf("events_total sums to %v, %d lines written", total, len(logged))
		}
		// 2 POST + 80 POST /big + DELETE 404 + GET 403 + the admin's own
		// notifications requests (2), and one of each of the others.
		byType := map[string]int{}
		for _, e := range logged {
			byType[e.Type]++
		}
		if byType["http"] != 2+big+2+2 || byType["client"] != 1 || byType["notification"] != 1 {
			t.Errorf("events by type %v, want http %d, client 1, notification 1", byType, 2+big+4)
		}
	})

	t.Run("audit_bytes_written_total equals the files' size; rotations counted", func(t *testing.T) {
		var size int64
		files := sidecartest.Files(t, s.Dir())
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			size += fi.Size()
		}
		if got := sidecartest.Counters(t, s.Reg, "trailcar_audit_bytes_written_total")[""]; got != float64(size) {
			t.Errorf("audit_bytes_written_total = %v, files hold %d bytes", got, size)
		}
		rotations := sidecartest.Counters(t, s.Reg, "trailcar_audit_rotations_total")[""]
		if len(files) < 2 || rotations != float64(len(files)-1) {
			t.Errorf("audit_rotations_total = %v with %d files, want files-1 and at least one rotation", rotations, len(files))
		}
	})

	t.Run("webhook_deliveries_total equals what the receiver got", func(t *testing.T) {
		got := sidecartest.Counters(t, s.Reg, "trailcar_webhook_deliveries_total")
		received := len(rec.Delivered(t))
		if got["endpoint=event_log,result=delivered"] != float64(received) || received != len(logged) {
			t.Errorf("delivered %v, receiver got %d, %d events written: want all three equal (deliveries %v)",
				got["endpoint=event_log,result=delivered"], received, len(logged), got)
		}
	})

	t.Run("nothing dropped or failed", func(t *testing.T) {
		// Exported at 0 from the start, so that increase() sees a first burst.
		if got := sidecartest.Counters(t, s.Reg, "trailcar_events_dropped_total"); len(got) != 2 ||
			got["reason=queue_full"] != 0 || got["reason=write_error"] != 0 {
			t.Errorf("events_dropped_total = %v, want both reasons at 0", got)
		}
		if got := sidecartest.Counters(t, s.Reg, "trailcar_audit_write_errors_total")[""]; got != 0 {
			t.Errorf("audit_write_errors_total = %v", got)
		}
	})
}

// TestUpstreamErrorsCounted: requests to a dead upstream are counted by
// reason and answered 502.
func TestUpstreamErrorsCounted(t *testing.T) {
	cfg := sidecartest.Config(t, "http://"+sidecartest.DeadAddr(t))
	s := sidecartest.Start(t, cfg)
	for range 3 {
		if status, _, _ := sidecartest.Do(t, "GET", s.ProxyURL()+"/api/v3/widgets", ""); status != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", status)
		}
	}
	want := `
# HELP trailcar_upstream_errors_total Proxied requests that failed to reach the upstream, by reason.
# TYPE trailcar_upstream_errors_total counter
trailcar_upstream_errors_total{reason="dns"} 0
trailcar_upstream_errors_total{reason="other"} 0
trailcar_upstream_errors_total{reason="refused"} 3
trailcar_upstream_errors_total{reason="reset"} 0
trailcar_upstream_errors_total{reason="timeout"} 0
`
	if err := testutil.GatherAndCompare(s.Reg, strings.NewReader(want), "trailcar_upstream_errors_total"); err != nil {
		t.Error(err)
	}
	if got := sidecartest.Counters(t, s.Reg, "trailcar_http_requests_total")["code=502,method=GET"]; got != 3 {
		t.Errorf("http_requests_total{GET,502} = %v, want 3", got)
	}
	s.WaitLine("an event", func(e sidecartest.Line) bool { return e.Type == "system.upstream.unreachable" })
}
