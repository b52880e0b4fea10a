package sidecartest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Family gathers reg and returns the family named name, or nil.
func Family(t testing.TB, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// LabelKey writes a metric's labels as name=value pairs joined by ",", in
// the order Gather sorts them.
func LabelKey(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// Counters returns a counter family's values by LabelKey.
func Counters(t testing.TB, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	if mf := Family(t, reg, name); mf != nil {
		for _, m := range mf.GetMetric() {
			out[LabelKey(m)] = m.GetCounter().GetValue()
		}
	}
	return out
}
