package ship

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the shipper's (docs/metrics.md), registered by NewMetrics
// on the sidecar's registry, or on trailcar ship's own.
type Metrics struct {
	Lines      *prometheus.CounterVec // result: shipped, rejected, lost
	Requests   *prometheus.CounterVec // result: ok, error
	LagSeconds prometheus.Gauge
	LagBytes   prometheus.Gauge
	Up         prometheus.Gauge
}

// NewMetrics creates the ship metrics and registers them on reg; every
// label value is exported at 0 from the start, so increase() sees the
// first lost line.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trailcar", Name: "ship_lines_total",
			Help: "Lines of the log dir handled by the shipper, by result: shipped (the store has them), rejected (the store refused them; not sent again), lost (pruned by retention before they were shipped).",
		}, []string{"result"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trailcar", Name: "ship_requests_total",
			Help: "Requests to the log store, by result (ok, error: re-sent with backoff).",
		}, []string{"result"}),
		LagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "trailcar", Name: "ship_lag_seconds",
			Help: "eventTime of the newest line written minus that of the newest line shipped; 0 when caught up.",
		}),
		LagBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "trailcar", Name: "ship_lag_bytes",
			Help: "Bytes of the log files after the newest line shipped (compressed files count their size on disk).",
		}),
		Up: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "trailcar", Name: "ship_up",
			Help: "1 when the last request to the log store succeeded, else 0.",
		}),
	}
	for _, r := range []string{"shipped", "rejected", "lost"} {
		m.Lines.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.Requests.WithLabelValues(r)
	}
	m.Up.Set(1) // taken as up until a request says otherwise, as the upstream probe does
	reg.MustRegister(m.Lines, m.Requests, m.LagSeconds, m.LagBytes, m.Up)
	return m
}
