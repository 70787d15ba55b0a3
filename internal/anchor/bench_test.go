package anchor_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/anchor"
	"github.com/tenantry/tenantry/internal/audit"
)

// BenchmarkVerify measures what anchored verification adds to the plain
// chain check on the same chain: "plain" recomputes every row hash
// (audit.VerifyAll), "anchored" does that and opens, links and compares ten
// signed anchors (anchor.Check). Report the ratio anchored/plain. 5,000
// events by default; TENANTRY_BENCH=full uses 200,000.
func BenchmarkVerify(b *testing.B) {
	n := 5000
	if os.Getenv("TENANTRY_BENCH") == "full" {
		n = 200000
	}
	f := newFixture(b)
	tenant := uuid.New()
	for i := 0; i < 10; i++ {
		f.src.append(tenant, n/10)
		if _, err := f.anch.Run(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			reps, err := audit.VerifyAll(ctx, f.src, []uuid.UUID{tenant})
			if err != nil || audit.Broken(reps) {
				b.Fatal(reps, err)
			}
		}
		b.ReportMetric(float64(n), "events")
	})
	b.Run("anchored", func(b *testing.B) {
		for b.Loop() {
			reps, err := anchor.Check(ctx, f.checkConfig(), []uuid.UUID{tenant})
			if err != nil || !reps[0].OK || reps[0].Anchors != 10 {
				b.Fatal(reps, err)
			}
		}
		b.ReportMetric(float64(n), "events")
	})
}
