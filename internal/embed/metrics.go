package embed

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/internal/promreg"

	"github.com/tenantry/tenantry/internal/embed/adaptive"
)

// Metrics count an Embedder's provider requests. Labels carry the model and
// the outcome only: no tenant, no text.
type Metrics struct {
	// Requests counts provider requests (every attempt) by model and outcome
	// (ok, throttled, error).
	Requests *prometheus.CounterVec
	// Throttled counts throttling answers (HTTP 429, Bedrock's
	// ThrottlingException) by model.
	Throttled *prometheus.CounterVec
	// Tokens counts the estimated tokens of successful requests by model.
	Tokens *prometheus.CounterVec
	// Texts counts the texts embedded by model.
	Texts *prometheus.CounterVec

	reg prometheus.Registerer
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// exported). A second registration on the same reg reuses the first.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tenantry", Subsystem: "embed", Name: name, Help: help}, labelsFor(name))
	}
	m := &Metrics{
		Requests:  vec("requests_total", "Embedding provider requests (every attempt), by model and outcome (ok, throttled, error)."),
		Throttled: vec("throttled_total", "Embedding provider throttling answers (HTTP 429, ThrottlingException), by model."),
		Tokens:    vec("tokens_total", "Estimated tokens of successful embedding requests, by model."),
		Texts:     vec("texts_total", "Texts embedded by successful requests, by model."),
		reg:       reg,
	}
	for _, c := range []**prometheus.CounterVec{&m.Requests, &m.Throttled, &m.Tokens, &m.Texts} {
		*c = promreg.Register(reg, *c)
	}
	return m
}

func labelsFor(name string) []string {
	if name == "requests_total" {
		return []string{"model", "outcome"}
	}
	return []string{"model"}
}

// StatsLimiter is a limiter that reports its state (*adaptive.Limiter).
type StatsLimiter interface {
	Stats() adaptive.Stats
}

// ObserveLimiter exports l's AIMD state as gauges (tenantry_embed_rate:
// permits per second; _concurrency: the cap on requests in flight;
// _in_flight; _limiter_throttles_total), read at every scrape. One limiter
// per registry.
func (m *Metrics) ObserveLimiter(l StatsLimiter) {
	if m == nil || m.reg == nil || l == nil {
		return
	}
	gauge := func(name, help string, f func(adaptive.Stats) float64) {
		promreg.Register(m.reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tenantry", Subsystem: "embed", Name: name, Help: help},
			func() float64 { return f(l.Stats()) }))
	}
	gauge("rate", "The AIMD limiter's current request rate (permits per second).", func(s adaptive.Stats) float64 { return s.Rate })
	gauge("concurrency", "The limiter's current cap on requests in flight.", func(s adaptive.Stats) float64 { return float64(s.Concurrency) })
	gauge("in_flight", "Embedding requests in flight.", func(s adaptive.Stats) float64 { return float64(s.InFlight) })
	promreg.Register(m.reg, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "tenantry", Subsystem: "embed", Name: "limiter_decreases_total",
		Help: "Times the AIMD limiter cut its rate."}, func() float64 { return float64(l.Stats().Decreases) }))
}

// request records one attempt.
func (m *Metrics) request(model, outcome string, texts, tokens int) {
	if m == nil {
		return
	}
	m.Requests.WithLabelValues(model, outcome).Inc()
	switch outcome {
	case "throttled":
		m.Throttled.WithLabelValues(model).Inc()
	case "ok":
		m.Texts.WithLabelValues(model).Add(float64(texts))
		m.Tokens.WithLabelValues(model).Add(float64(tokens))
	}
}
