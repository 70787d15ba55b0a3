// Package promreg owns registering tenantry's Prometheus collectors on a
// registry that several parts of one process share (the worker's, or a
// test's): a collector registered twice under the same name is the first
// one, so two packages, or two instances of one, count into one series
// instead of failing or counting apart.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the collector of
// the same type already registered under its name. reg nil registers
// nothing and returns c (not exported). Any other refusal also returns c,
// unregistered: metrics never stop the work.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(C); ok {
				return prev
			}
		}
	}
	return c
}
