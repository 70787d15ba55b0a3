package worker

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runner's Prometheus metrics. One Metrics may be shared by
// several runners (their Config.Name is the "runner" label). Create it once
// per registry with NewMetrics.
//
//	tenantry_worker_messages_received_total{runner}
//	tenantry_worker_messages_succeeded_total{runner}
//	tenantry_worker_messages_failed_total{runner,reason}        every failed handling
//	tenantry_worker_messages_retried_total{runner}              failures put back with a delay
//	tenantry_worker_messages_dead_lettered_total{runner,reason}
//	tenantry_worker_messages_released_total{runner}             made visible at once during drain
//	tenantry_worker_in_flight{runner}                           messages being handled (held ones included)
//	tenantry_worker_held{runner}                                messages kept by the Admitter, not started
//	tenantry_worker_handler_duration_seconds{runner,outcome}    outcome: success|failure
//	tenantry_worker_queue_lag_seconds{runner}                   receive time − SentAt
//	tenantry_worker_heartbeats_total{runner}                    successful visibility extensions
//	tenantry_worker_source_errors_total{runner,op}              op: receive|ack|nack|extend|dead_letter|finalize
type Metrics struct {
	received, succeeded, retried, released, heartbeats *prometheus.CounterVec
	failed, deadLettered, sourceErrors                 *prometheus.CounterVec
	inFlight, held                                     *prometheus.GaugeVec
	handlerDuration, queueLag                          *prometheus.HistogramVec

	mu      sync.Mutex
	reasons map[string]bool // reason label values seen, bounded
}

// maxReasonLabels bounds the distinct reason label values; later ones are
// reported as "other".
const maxReasonLabels = 100

// NewMetrics creates the runner metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "tenantry", "worker"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		received:     counter("messages_received_total", "Messages received.", "runner"),
		succeeded:    counter("messages_succeeded_total", "Messages handled successfully (then deleted).", "runner"),
		failed:       counter("messages_failed_total", "Failed handlings, by reason code.", "runner", "reason"),
		retried:      counter("messages_retried_total", "Failed messages made visible again after a backoff delay.", "runner"),
		deadLettered: counter("messages_dead_lettered_total", "Messages sent to the dead-letter queue, by reason code.", "runner", "reason"),
		released:     counter("messages_released_total", "Messages made visible again at once during a drain.", "runner"),
		heartbeats:   counter("heartbeats_total", "Successful visibility extensions of running and held messages.", "runner"),
		sourceErrors: counter("source_errors_total", "Failed source operations, by operation.", "runner", "op"),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "in_flight",
			Help: "Messages being handled (received and not yet settled, held ones included)."}, []string{"runner"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "held",
			Help: "Messages received and kept by the Admitter, their handlers not started."}, []string{"runner"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "handler_duration_seconds", Help: "Handler latency, by outcome (success|failure).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}, []string{"runner", "outcome"}),
		queueLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "queue_lag_seconds", Help: "Time from the message's SentTimestamp to its receipt.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12)}, []string{"runner"}),
		reasons: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.received, m.succeeded, m.failed, m.retried, m.deadLettered,
		m.released, m.heartbeats, m.sourceErrors, m.inFlight, m.held, m.handlerDuration, m.queueLag} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) reasonLabel(reason string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reasons[reason] {
		return reason
	}
	if len(m.reasons) >= maxReasonLabels {
		return "other"
	}
	m.reasons[reason] = true
	return reason
}

// runnerMetrics are one runner's curried metrics.
type runnerMetrics struct {
	m                                                     *Metrics
	name                                                  string
	received, succeeded, retried, released, heartbeats    prometheus.Counter
	inFlight, held                                        prometheus.Gauge
	durationSuccess, durationFailure, queueLag            prometheus.Observer
	errReceive, errAck, errNack, errExtend, errDeadLetter prometheus.Counter
	errFinalize                                           prometheus.Counter // the Finalizer failed
}

func (m *Metrics) forRunner(name string) *runnerMetrics {
	return &runnerMetrics{
		m: m, name: name,
		received:        m.received.WithLabelValues(name),
		succeeded:       m.succeeded.WithLabelValues(name),
		retried:         m.retried.WithLabelValues(name),
		released:        m.released.WithLabelValues(name),
		heartbeats:      m.heartbeats.WithLabelValues(name),
		inFlight:        m.inFlight.WithLabelValues(name),
		held:            m.held.WithLabelValues(name),
		durationSuccess: m.handlerDuration.WithLabelValues(name, "success"),
		durationFailure: m.handlerDuration.WithLabelValues(name, "failure"),
		queueLag:        m.queueLag.WithLabelValues(name),
		errReceive:      m.sourceErrors.WithLabelValues(name, "receive"),
		errAck:          m.sourceErrors.WithLabelValues(name, "ack"),
		errNack:         m.sourceErrors.WithLabelValues(name, "nack"),
		errExtend:       m.sourceErrors.WithLabelValues(name, "extend"),
		errDeadLetter:   m.sourceErrors.WithLabelValues(name, "dead_letter"),
		errFinalize:     m.sourceErrors.WithLabelValues(name, "finalize"),
	}
}

func (r *runnerMetrics) receivedMsg(lag time.Duration, hasLag bool) {
	r.received.Inc()
	if hasLag {
		r.queueLag.Observe(max(lag, 0).Seconds())
	}
}

func (r *runnerMetrics) handled(d time.Duration, ok bool) {
	if ok {
		r.durationSuccess.Observe(d.Seconds())
	} else {
		r.durationFailure.Observe(d.Seconds())
	}
}

func (r *runnerMetrics) failedMsg(reason string) {
	r.m.failed.WithLabelValues(r.name, r.m.reasonLabel(reason)).Inc()
}

func (r *runnerMetrics) deadLetteredMsg(reason string) {
	r.m.deadLettered.WithLabelValues(r.name, r.m.reasonLabel(reason)).Inc()
}
