package promreg_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantry/tenantry/internal/promreg"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	opts := prometheus.CounterOpts{Name: "promreg_test_total", Help: "test"}
	t.Run("second registration is the first collector", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		a := promreg.Register(reg, prometheus.NewCounter(opts))
		b := promreg.Register(reg, prometheus.NewCounter(opts))
		b.Inc()
		if got := testutil.ToFloat64(a); got != 1 {
			t.Fatalf("the first collector counted %v, want 1 (the second registration must return it)", got)
		}
	})
	t.Run("nil registry", func(t *testing.T) {
		t.Parallel()
		c := prometheus.NewCounter(opts)
		if got := promreg.Register(nil, c); got != c {
			t.Fatal("nil registry: want the collector itself")
		}
	})
	t.Run("another type under the name is not returned", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{Name: "promreg_test_total", Help: "test"}))
		c := prometheus.NewCounter(opts)
		if got := promreg.Register(reg, c); got != c {
			t.Fatal("a histogram under the name: want the counter back, unregistered")
		}
	})
}
