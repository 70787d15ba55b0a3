package tenantlimits

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/usage"
)

type nopEmbedder struct{}

func (nopEmbedder) Model() string   { return "m" }
func (nopEmbedder) Dimensions() int { return 2 }
func (nopEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	return make([][]float32, len(texts)), nil
}

// BenchmarkBudgetUsage is the cost the usage tally adds to an embedding
// call (an in-memory add; the database write is the meter's batched flush,
// off the call path): compare "tally" against "baseline" of the same run.
// The provider is a no-op, so this is the worst case; a real call is
// milliseconds.
func BenchmarkBudgetUsage(b *testing.B) {
	texts := []string{"a chunk of some length to estimate", "another chunk"}
	ctxs := make([]context.Context, 8) // 8 tenants, admitted as the dispatcher does
	for i := range ctxs {
		s := tenantdbtest.Scope(b, uuid.New())
		ctxs[i] = context.WithValue(context.Background(), limitsKey{}, tenantLimits{tenant: s.TenantID().String(), scope: s})
	}
	for _, tc := range []struct {
		name  string
		usage UsageRecorder
	}{{"baseline", nil}, {"tally", usage.NewMeter(nil, nil)}} {
		b.Run(tc.name, func(b *testing.B) {
			bud := NewBudget(nopEmbedder{})
			if tc.usage != nil {
				bud.RecordUsage(tc.usage)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := bud.Embed(ctxs[i%len(ctxs)], texts); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
