package breaker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the breaker's Prometheus metrics.
type Metrics struct {
	// Events counts transitions and parked work by event: trip, reopen,
	// close, pause, resume, half_open, park, release, refuse.
	Events *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// exported). A second registration on the same reg reuses the first.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tenantry", Subsystem: "breaker", Name: "events_total",
		Help: "Per-tenant circuit breaker transitions and parked work, by event (no tenant label: see the audit chain and logs).",
	}, []string{"event"})}
	if reg != nil {
		if err := reg.Register(m.Events); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				m.Events = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return m
}

func (m *Metrics) inc(event Transition) {
	if m != nil && event != NoChange {
		m.Events.WithLabelValues(string(event)).Inc()
	}
}
