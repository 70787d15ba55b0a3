package tenantlimits

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/internal/promreg"
)

// NewDispatchWait returns the histogram of how long verified work waits
// for a fair slot (Dispatcher.Wait), registered on reg (nil: not exported;
// a second registration on the same reg reuses the first):
//
//	tenantry_dispatch_wait_seconds    verified → slot granted (its tenant's limits read, its turn come)
//
// It has no tenant_id label: one histogram per tenant would be a dozen
// series each; the per-tenant story is the breaker's and the usage
// tallies'.
func NewDispatchWait(reg prometheus.Registerer) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "tenantry", Subsystem: "dispatch", Name: "wait_seconds",
		Help:    "Time from a verified message asking for a fair dispatch slot to getting it (its tenant's limits read, its turn come).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)})
	return promreg.Register(reg, h)
}
