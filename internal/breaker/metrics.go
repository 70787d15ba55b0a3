package breaker

import (
	"sync"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/internal/promreg"
)

// Metrics are the breaker's Prometheus metrics. Every series describes one
// tenant and carries its tenant_id: the id of a tenant the gate verified
// (or an operator named), never a field of an unverified message, so the
// label's values are bounded by the tenants the deployment signs for.
type Metrics struct {
	// State is 1 for the state each tenant's breaker was last seen in by
	// this process (closed, open, half_open, or paused: an operator's
	// open) and 0 for the others; label state. A tenant gets these series
	// once this process sees its breaker other than closed (or makes a
	// transition): a tenant whose breaker stayed closed has none.
	State *prometheus.GaugeVec
	// Transitions counts each tenant's breaker transitions; label
	// transition: trip, reopen, close, pause, resume, half_open.
	Transitions *prometheus.CounterVec
	// Parked counts messages kept for later; label kind: breaker (the
	// breaker is open) or deferred (fair-dispatch overflow).
	Parked *prometheus.CounterVec
	// Released counts kept messages put back into the queue; label kind as
	// Parked.
	Released *prometheus.CounterVec
	// Refused counts parked messages the releaser refused (kept for
	// operators, never released).
	Refused *prometheus.CounterVec
	// TasksRefused counts work turned away without being parked because its
	// tenant's breaker is open (Step Functions tasks: the state machine
	// retries them).
	TasksRefused *prometheus.CounterVec

	mu    sync.Mutex
	shown map[uuid.UUID]bool // tenants with State series
}

// Label values of Metrics.State (besides the States) and of the kind label.
const (
	statePaused  = "paused"
	kindBreaker  = "breaker"
	kindDeferred = "deferred"
)

// NewMetrics creates the metrics and registers them on reg (nil: not
// exported). A second registration on the same reg reuses the first.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tenantry", Subsystem: "breaker", Name: name, Help: help},
			append([]string{"tenant_id"}, labels...))
	}
	m := &Metrics{
		shown: map[uuid.UUID]bool{},
		State: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tenantry", Subsystem: "breaker", Name: "state",
			Help: "1 for the state each tenant's circuit breaker was last seen in by this process (closed, open, half_open, paused), 0 for the others."},
			[]string{"tenant_id", "state"}),
		Transitions: counter("transitions_total", "Per-tenant circuit breaker transitions, by transition.", "transition"),
		Parked: counter("parked_total", "Messages kept for later per tenant: its breaker is open (kind breaker) or its backlog "+
			"overflowed (kind deferred).", "kind"),
		Released:     counter("released_total", "Kept messages put back into the queue per tenant, by kind.", "kind"),
		Refused:      counter("release_refused_total", "Parked messages refused at release per tenant (kept for operators)."),
		TasksRefused: counter("tasks_refused_total", "Step Functions tasks refused per tenant because its breaker is open (retried by the state machine)."),
	}
	m.State = promreg.Register(reg, m.State)
	m.Transitions = promreg.Register(reg, m.Transitions)
	m.Parked = promreg.Register(reg, m.Parked)
	m.Released = promreg.Register(reg, m.Released)
	m.Refused = promreg.Register(reg, m.Refused)
	m.TasksRefused = promreg.Register(reg, m.TasksRefused)
	return m
}

// transition counts tr for tenant and sets the state it leads to.
func (m *Metrics) transition(tenant uuid.UUID, tr Transition) {
	if tr == NoChange {
		return
	}
	m.Transitions.WithLabelValues(tenant.String(), string(tr)).Inc()
	switch tr {
	case Trip, Reopen:
		m.state(tenant, string(Open), true)
	case Close, Resume:
		m.state(tenant, string(Closed), true)
	case Pause:
		m.state(tenant, statePaused, true)
	case halfOpen:
		m.state(tenant, string(HalfOpen), true)
	}
}

// seen sets tenant's state gauge from a breaker row read now.
func (m *Metrics) seen(tenant uuid.UUID, r row) {
	s := string(r.State)
	if r.State == Open && r.Manual {
		s = statePaused
	}
	m.state(tenant, s, false)
}

// state sets tenant's state gauge to s. A closed breaker seen (not
// transitioned to) creates no series: every tenant's messages pass here,
// and only the tenants whose breakers leave closed are worth a series.
func (m *Metrics) state(tenant uuid.UUID, s string, transition bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s == string(Closed) && !transition && !m.shown[tenant] {
		return
	}
	if m.shown == nil {
		m.shown = map[uuid.UUID]bool{}
	}
	m.shown[tenant] = true
	id := tenant.String()
	for _, x := range []string{string(Closed), string(Open), string(HalfOpen), statePaused} {
		v := 0.0
		if x == s {
			v = 1
		}
		m.State.WithLabelValues(id, x).Set(v)
	}
}
