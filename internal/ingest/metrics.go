package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the handler's Prometheus metrics.
type Metrics struct {
	Rejected  *prometheus.CounterVec // envelopes rejected, by reason
	Documents *prometheus.CounterVec // documents handled, by outcome
	Chunks    prometheus.Counter
	Stage     *prometheus.HistogramVec // seconds per pipeline stage
}

// NewMetrics creates the metrics and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tenantry", Name: "envelopes_rejected_total",
			Help: "Envelopes rejected before any handler code ran, by reason code."}, []string{"reason"}),
		Documents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tenantry", Name: "documents_total",
			Help: "Documents handled, by outcome (ingested, duplicate, stale, deleted, failed)."}, []string{"outcome"}),
		Chunks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tenantry", Name: "chunks_stored_total",
			Help: "Chunks written to pgvector."}),
		Stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "tenantry", Name: "stage_seconds",
			Help: "Time per pipeline stage.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, []string{"stage"}),
	}
	if reg != nil {
		reg.MustRegister(m.Rejected, m.Documents, m.Chunks, m.Stage)
	}
	return m
}
