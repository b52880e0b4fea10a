package sidecar_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/internal/webhook"
	"github.com/trailcar/trailcar/sidecar"
)

// TestWebhookDeliversProxiedEvents: a receiver gets each event of real
// proxied requests as {"notification_type":"event_log","event":{…}}, the
// event exactly as written to the audit file, with the configured url,
// basic auth and headers.
func TestWebhookDeliversProxiedEvents(t *testing.T) {
	up := metricsUpstream(t)
	rec := sidecartest.NewRecorder(t, http.StatusOK)
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(" hook-pw \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sidecartest.Config(t, up.URL)
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Endpoints.EventLog = webhook.Endpoint{
		URL: rec.URL + "/hooks/<notification_type>", User: "trail", PasswordFile: pwFile,
		Headers: map[string]string{"X-Tenant": "t1"},
	}
	s := sidecartest.Start(t, cfg)
	sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", `{}`, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	sidecartest.Do(t, "DELETE", s.ProxyURL()+"/api/v3/widgets/missing", "")
	s.Stop()

	logged := s.Lines()
	byID := map[string]string{}
	for _, e := range logged {
		byID[e.ID] = e.Raw
	}
	got := rec.Delivered(t)
	if len(got) != len(logged) {
		t.Fatalf("receiver got %d events, %d written", len(got), len(logged))
	}
	var actions []string
	for i, b := range got {
		if b.NotificationType != "event_log" {
			t.Errorf("delivery %d: notification_type %q, want event_log", i, b.NotificationType)
		}
		var e struct{ ID, Action string }
		if err := json.Unmarshal(b.Event, &e); err != nil {
			t.Fatal(err)
		}
		if line, ok := byID[e.ID]; !ok || line != string(b.Event) {
			t.Errorf("delivered event\n%s\nis not the line written\n%s", b.Event, line)
		}
		if e.Action != "" {
			actions = append(actions, e.Action)
		}
	}
	slices.Sort(actions)
	if want := []string{"console.widgets.create", "console.widgets.delete"}; !slices.Equal(actions, want) {
		t.Errorf("actions delivered %v, want %v", actions, want)
	}
	for _, r := range rec.Requests() {
		user, pw, _ := r.BasicAuth()
		if r.Method != "POST" || r.Path != "/hooks/event_log" || r.Header.Get("Content-Type") != "application/json" ||
			user != "trail" || pw != "hook-pw" || r.Header.Get("X-Tenant") != "t1" {
			t.Errorf("request %s %s, Content-Type %q, basic auth %q:%q, X-Tenant %q",
				r.Method, r.Path, r.Header.Get("Content-Type"), user, pw, r.Header.Get("X-Tenant"))
		}
	}
}

// TestWebhookFilters: with levels and types set in the configuration, the
// receiver gets exactly the written events that pass them.
func TestWebhookFilters(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		wanted func(sidecartest.Line) bool
	}{
		{"levels: [error]", "levels: [error]",
			func(e sidecartest.Line) bool { return e.Level == "error" }},
		{"types: [client, system.*]", "types: [client, \"system.*\"]",
			func(e sidecartest.Line) bool { return e.Type == "client" || strings.HasPrefix(e.Type, "system.") }},
		{"levels: [info] and types: [http]", "levels: [info]\n  types: [http]",
			func(e sidecartest.Line) bool { return e.Level == "info" && e.Type == "http" }},
	}
	up := metricsUpstream(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := sidecartest.NewRecorder(t, http.StatusNoContent)
			cfg := sidecartest.Config(t, up.URL)
			parsed, err := sidecar.ParseConfig(strings.NewReader(
				"webhooks:\n  enabled: true\n  endpoints: {general: {url: \"" + rec.URL + "\"}}\n  " + tc.yaml + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Webhooks = parsed.Webhooks
			s := sidecartest.Start(t, cfg)
			proxy := s.ProxyURL()
			sidecartest.Do(t, "POST", proxy+"/api/v3/widgets", `{}`)                                                 // http info
			sidecartest.Do(t, "DELETE", proxy+"/api/v3/widgets/missing", "")                                         // http error
			sidecartest.Do(t, "POST", proxy+"/api/v3/events/widgets/w1", `{"action_verb":"create","http_code":200}`) // client info
			sidecartest.Do(t, "POST", proxy+"/api/v3/events/widgets/w1", `{"action_verb":"create","http_code":500}`) // client error
			sidecartest.Do(t, "POST", s.AdminURL()+"/api/v3/notifications", `{"message":"m","status":"error"}`)      // notification error, http info
			s.Stop()

			var want, got []string
			for _, e := range s.Lines() {
				if tc.wanted(e) {
					want = append(want, e.ID)
				}
			}
			for _, b := range rec.Delivered(t) {
				var e struct{ ID string }
				json.Unmarshal(b.Event, &e)
				got = append(got, e.ID)
			}
			slices.Sort(want)
			slices.Sort(got)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("delivered %v\nwant      %v (the written events that pass the filter)", got, want)
			}
		})
	}
}

// TestWebhookFailureReportedNotLooped: a receiver that always fails gets
// each event until retry_for runs out, then the audit log gets a
// system.webhook.delivery_failed event, which is never sent to it.
func TestWebhookFailureReportedNotLooped(t *testing.T) {
	up := metricsUpstream(t)
	rec := sidecartest.NewRecorder(t, http.StatusInternalServerError)
	cfg := sidecartest.Config(t, up.URL)
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Endpoints.EventLog.URL = rec.URL
	cfg.Webhooks.RetryFor = 1500 * time.Millisecond // room for a retry on a busy machine
	s := sidecartest.Start(t, cfg)
	resp := sidecartest.Response(t, "POST", s.ProxyURL()+"/api/v3/widgets", `{}`)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")

	failed := s.WaitLine("an event", func(e sidecartest.Line) bool {
		return e.Type == webhook.TypeDeliveryFailed && strings.Contains(string(e.Details), id)
	})
	var details struct {
		Endpoint string `json:"endpoint"`
		EventID  string `json:"event_id"`
		Attempts int    `json:"attempts"`
	}
	if err := json.Unmarshal(failed.Details, &details); err != nil {
		t.Fatal(err)
	}
	if failed.Level != "error" || details.Endpoint != "event_log" || details.EventID != id || details.Attempts < 2 {
		t.Errorf("delivery_failed event %s: want level error, endpoint event_log, event_id %s, 2+ attempts", failed.Raw, id)
	}
	attempts := 0
	for _, b := range rec.Delivered(t) {
		var e struct{ ID, Type string }
		json.Unmarshal(b.Event, &e)
		if e.Type == webhook.TypeDeliveryFailed {
			t.Errorf("the failing receiver was sent its own failure report: %s", b.Event)
		}
		if e.ID == id {
			attempts++
		}
	}
	if attempts != details.Attempts {
		t.Errorf("receiver saw %d attempts at the event, report says %d", attempts, details.Attempts)
	}
	if got := sidecartest.Counters(t, s.Reg, "trailcar_webhook_deliveries_total"); got["endpoint=event_log,result=failed"] < 1 ||
		got["endpoint=event_log,result=retried"] < 1 || got["endpoint=event_log,result=delivered"] != 0 {
		t.Errorf("webhook_deliveries_total %v: want failed and retried, nothing delivered", got)
	}
}

// stuckWebhookConfig is a sidecar config in front of metricsUpstream
// whose webhook receiver reads each delivery and does not answer until
// release (the client's timeout is a minute).
func stuckWebhookConfig(t *testing.T) (cfg sidecar.Config, recv *sidecartest.Recorder, release func()) {
	recv, release = sidecartest.NewHangingRecorder(t)
	cfg = sidecartest.Config(t, metricsUpstream(t).URL)
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Endpoints.EventLog.URL = recv.URL
	cfg.Webhooks.Timeout = time.Minute
	return cfg, recv, release
}

// TestHangingWebhookDoesNotSlowTheProxy: with a receiver that never
// answers, proxied requests are still answered at once (the latency
// comparison is BenchmarkProxyLatencyWebhook).
func TestHangingWebhookDoesNotSlowTheProxy(t *testing.T) {
	cfg, _, release := stuckWebhookConfig(t)
	cfg.Webhooks.Queue = 16 // fills up: further events are dropped, not waited for
	s := sidecartest.Start(t, cfg)
	for i := range 100 {
		start := time.Now()
		if status, _, _ := sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", `{}`); status != http.StatusCreated {
			t.Fatalf("request %d: status %d", i, status)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("request %d took %v with a hanging receiver", i, d)
		}
	}
	// The webhooks get events once they are written: the drops come a
	// moment after the last answer.
	sidecartest.Eventually(t, "dropped deliveries: the queue of 16 must overflow", func() bool {
		return sidecartest.Counters(t, s.Reg, "trailcar_webhook_deliveries_total")["endpoint=event_log,result=dropped"] >= 1
	})
	release() // let the receiver go, so shutdown does not wait on it
}

// TestShutdownWithStuckWebhookSucceeds: deliveries still pending at
// shutdown are given up after the drain (logged, counted as dropped); Run
// returns nil, so SIGTERM exits 0 as the contract says. The drain is
// 200ms here instead of DefaultWebhookDrain's 5s.
func TestShutdownWithStuckWebhookSucceeds(t *testing.T) {
	const drain = 200 * time.Millisecond
	cfg, recv, _ := stuckWebhookConfig(t)
	s := sidecartest.Start(t, cfg, func(o *sidecar.Options) { o.WebhookDrain = drain })
	for range 3 {
		sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", `{}`)
	}
	sidecartest.Eventually(t, "a delivery to hang", func() bool { return len(recv.Requests()) > 0 })
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("Run = %v after %v, want nil", err, time.Since(start))
	}
	switch took := time.Since(start); {
	case took < drain:
		t.Errorf("shutdown took %v: the pending deliveries were not given their %v", took, drain)
	case took >= sidecar.DefaultWebhookDrain:
		t.Errorf("shutdown took %v: Options.WebhookDrain (%v) was not used", took, drain)
	}
	if !strings.Contains(s.Log.String(), "webhooks at shutdown") {
		t.Errorf("the abandoned deliveries are not logged:\n%s", s.Log.String())
	}
	if got := sidecartest.Counters(t, s.Reg, "trailcar_webhook_deliveries_total")["endpoint=event_log,result=dropped"]; got < 1 {
		t.Errorf("dropped deliveries %v, want the abandoned ones counted", got)
	}
}

// TestWebhookBatchesProxiedEvents: with batch.max_events 10, 100 proxied
// requests (and the sidecar's own system events) reach the receiver in at
// most ⌈lines/10⌉ POSTs, each a JSON array, and together they are the
// lines of the audit file in file order.
func TestWebhookBatchesProxiedEvents(t *testing.T) {
	const requests, maxEvents = 100, 10
	up := metricsUpstream(t)
	rec := sidecartest.NewRecorder(t, http.StatusOK)
	cfg := sidecartest.Config(t, up.URL)
	cfg.Webhooks.Enabled = true
	cfg.Webhooks.Endpoints.EventLog.URL = rec.URL
	cfg.Webhooks.Batch = webhook.Batch{MaxEvents: maxEvents, MaxWait: time.Minute}
	s := sidecartest.Start(t, cfg)
	for range requests {
		sidecartest.Do(t, "POST", s.ProxyURL()+"/api/v3/widgets", `{}`)
	}
	s.Stop()

	var written []string
	proxied := 0
	for _, e := range s.Lines() {
		written = append(written, e.Raw)
		if e.Type == "http" {
			proxied++
		}
	}
	if proxied != requests {
		t.Fatalf("%d http lines written, want %d", proxied, requests)
	}
	reqs := rec.Requests()
	if maxPosts := (len(written) + maxEvents - 1) / maxEvents; len(reqs) > maxPosts {
		t.Errorf("%d POSTs for %d lines, want at most %d", len(reqs), len(written), maxPosts)
	}
	var delivered []string
	for i, r := range reqs {
		var batch []sidecartest.WebhookBody
		if err := json.Unmarshal(r.Body, &batch); err != nil {
			t.Fatalf("POST %d: body is not a JSON array: %v", i, err)
		}
		for _, b := range batch {
			delivered = append(delivered, string(b.Event))
		}
	}
	if !slices.Equal(delivered, written) {
		t.Errorf("delivered %d events, want the %d lines written, in file order", len(delivered), len(written))
	}
}
