package ship

import "github.com/prometheus/client_golang/prometheus"

// discard is a Registerer that keeps nothing, for a Shipper whose caller
// does not look at its metrics.
type discard struct{}

func (discard) Register(prometheus.Collector) error  { return nil }
func (discard) MustRegister(...prometheus.Collector) {}
func (discard) Unregister(prometheus.Collector) bool { return true }
