// Package ops serves a worker process's operational HTTP endpoints:
// /metrics (Prometheus exposition of a given Gatherer), /healthz (the
// process is alive) and /readyz (200 only after the caller said so with
// SetReady(true), e.g. once its preflight passed; 503 otherwise, and again
// while draining).
//
// It owns only those endpoints. It must never serve tenant data, expose
// pprof or anything that mutates state, or decide readiness itself.
package ops
