// Package metrics defines trailcar's Prometheus metrics (docs/metrics.md), all under
// one namespace and registered on a registry the caller passes in, so tests
// get a fresh one and nothing touches the global registry.
package metrics

import (
	"cmp"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every trailcar metric.
const Namespace = "trailcar"

// Metrics holds every collector trailcar updates. Gauges whose value lives
// elsewhere (queue lengths) are registered by their owners with GaugeFunc.
type Metrics struct {
	HTTPRequests        *prometheus.CounterVec   // method, code
	HTTPRequestDuration *prometheus.HistogramVec // method
	UpstreamErrors      *prometheus.CounterVec   // reason
	Events              *prometheus.CounterVec   // type, level, outcome
	EventsDropped       *prometheus.CounterVec   // reason
	AuditWriteErrors    prometheus.Counter
	AuditBytesWritten   prometheus.Counter
	AuditRotations      prometheus.Counter
	WebhookDeliveries   *prometheus.CounterVec // endpoint, result
	UpstreamUp          prometheus.Gauge       // 1 when the last probe (or request) reached the app
	AdminRefused        *prometheus.CounterVec // reason: token, host, streams, queries
	BuildInfo           *prometheus.GaugeVec   // version, goversion; always 1

	IntegrityCheckpoints    prometheus.Counter
	IntegrityLastCheckpoint prometheus.Gauge // Unix seconds

	ClusterPeers        *prometheus.GaugeVec   // state: up, down (at the last cluster query)
	ClusterPeerRequests *prometheus.CounterVec // result: ok, error, timeout

	reg prometheus.Registerer
}

// New creates the collectors and registers them, with the Go and process
// collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "Requests answered on the proxy port, by method and status code.",
		}, []string{"method", "code"}),
		HTTPRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time from receiving a request on the proxy port to finishing its response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "upstream_errors_total",
			Help: "Proxied requests that failed to reach the upstream, by reason.",
		}, []string{"reason"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_total",
			Help: "Events written to the audit log, by type (system types folded to system), level and outcome.",
		}, []string{"type", "level", "outcome"}),
		EventsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_dropped_total",
			Help: "Events that were not written, by reason.",
		}, []string{"reason"}),
		AuditWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "audit_write_errors_total",
			Help: "Failed writes to the audit log file.",
		}),
		AuditBytesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "audit_bytes_written_total",
			Help: "Bytes written to the audit log files.",
		}),
		AuditRotations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "audit_rotations_total",
			Help: "Rotations of the live audit log file.",
		}),
		WebhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhook_deliveries_total",
			Help: "Webhook deliveries by endpoint and result (delivered, retried, failed, dropped).",
		}, []string{"endpoint", "result"}),
		UpstreamUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "upstream_up",
			Help: "1 when the upstream app answered the last probe, 0 when it is unreachable.",
		}),
		AdminRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "admin_refused_total",
			Help: "Admin port requests refused, by reason (token: no or bad token; host: Host not allowed; streams: too many streams; queries: too many event answers being built).",
		}, []string{"reason"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "build_info",
			Help: "Always 1; the labels say which trailcar this is.",
		}, []string{"version", "goversion"}),
	}
	m.IntegrityCheckpoints = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "integrity_checkpoints_total",
		Help: "Checkpoints written, sealing the audit log's hash chain.",
	})
	m.IntegrityLastCheckpoint = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "integrity_last_checkpoint_timestamp_seconds",
		Help: "When the last checkpoint was written (its eventTime), Unix seconds; 0 before the first.",
	})
	m.ClusterPeers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "cluster_peers",
		Help: "Peers that answered (up) or not (down) the last cluster query.",
	}, []string{"state"})
	m.ClusterPeerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "cluster_peer_requests_total",
		Help: "Requests to peers, by result (ok, error, timeout).",
	}, []string{"result"})
	for _, st := range []string{"up", "down"} {
		m.ClusterPeers.WithLabelValues(st)
	}
	for _, r := range []string{"ok", "error", "timeout"} {
		m.ClusterPeerRequests.WithLabelValues(r)
	}
	m.UpstreamUp.Set(1) // the app is taken as up until a probe says otherwise
	for _, reason := range []string{"token", "host", "streams", "queries"} {
		m.AdminRefused.WithLabelValues(reason) // exported at 0: increase() sees the first refusal
	}
	reg.MustRegister(
		m.HTTPRequests, m.HTTPRequestDuration, m.UpstreamErrors, m.Events, m.EventsDropped,
		m.AuditWriteErrors, m.AuditBytesWritten, m.AuditRotations, m.WebhookDeliveries,
		m.UpstreamUp, m.AdminRefused, m.BuildInfo, m.IntegrityCheckpoints, m.IntegrityLastCheckpoint,
		m.ClusterPeers, m.ClusterPeerRequests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// SetBuildInfo sets build_info's labels.
func (m *Metrics) SetBuildInfo(version string) {
	m.BuildInfo.WithLabelValues(cmp.Or(version, "dev"), runtime.Version()).Set(1)
}

// Discard returns Metrics registered on a throwaway registry, for code and
// tests that do not look at metrics.
func Discard() *Metrics { return New(prometheus.NewRegistry()) }

// GaugeFunc registers a gauge whose value is read from f at scrape time,
// e.g. the length of a queue owned by another package.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: name, Help: help,
	}, f))
}
