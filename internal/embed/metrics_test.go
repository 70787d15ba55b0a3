package embed_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/adaptive"
)

// TestMetrics: every attempt is counted with its outcome, 429s separately,
// tokens and texts of successful requests, and the AIMD limiter's rate is
// exported and follows the cut after a throttle.
func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := embed.NewMetrics(reg)
	lim, err := adaptive.New(adaptive.Config{InitialRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{limits: embed.Limits{MaxInputs: 2}, errs: func(n int) error {
		switch n {
		case 1:
			return &embed.StatusError{Status: 429, RetryAfter: time.Millisecond}
		case 2:
			return &embed.StatusError{Status: 500}
		}
		return nil
	}}
	e := newEmbed(t, f, embed.Config{Limiter: lim, Metrics: m, CountTokens: func(s string) int { return len(s) }})
	if _, err := e.Embed(context.Background(), []string{"abc", "de"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.Requests.WithLabelValues("fake", "throttled"), 1},
		{m.Requests.WithLabelValues("fake", "error"), 1},
		{m.Requests.WithLabelValues("fake", "ok"), 1},
		{m.Throttled.WithLabelValues("fake"), 1},
		{m.Tokens.WithLabelValues("fake"), 5},
		{m.Texts.WithLabelValues("fake"), 2},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%v = %v, want %v", tc.c, got, tc.want)
		}
	}
	rate, err := testutil.GatherAndCount(reg, "tenantry_embed_rate", "tenantry_embed_in_flight", "tenantry_embed_limiter_decreases_total")
	if err != nil || rate != 3 {
		t.Fatalf("limiter gauges: %d, %v", rate, err)
	}
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == "tenantry_embed_rate" {
			if got, want := f.GetMetric()[0].GetGauge().GetValue(), lim.Stats().Rate; got != want || got >= 100 {
				t.Fatalf("exported rate %v, limiter %v (want the cut rate, below 100)", got, want)
			}
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "abc") {
					t.Fatalf("a text reached a label: %s", f.GetName())
				}
			}
		}
	}
	// A second embedder on the same registry shares the metrics.
	if m2 := embed.NewMetrics(reg); m2.Requests != m.Requests {
		t.Fatal("second registration did not reuse the first")
	}
}
