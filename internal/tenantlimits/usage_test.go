package tenantlimits_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/internal/usage"
	"github.com/tenantry/tenantry/pipeline"
)

type recorded struct {
	mu  sync.Mutex
	got map[uuid.UUID]usage.Counts
}

func (r *recorded) Add(s tenantdb.Scope, c usage.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.got[s.TenantID()]
	n.Requests, n.Tokens, n.Throttled = n.Requests+c.Requests, n.Tokens+c.Tokens, n.Throttled+c.Throttled
	r.got[s.TenantID()] = n
}

// throttledEmbedder meets the provider's 429 `retried` times inside the
// call (as embed.Embedder does), then answers, or fails with a
// Retry-After when fail is set.
type throttledEmbedder struct {
	retried int
	fail    bool
}

func (e *throttledEmbedder) Model() string   { return "m" }
func (e *throttledEmbedder) Dimensions() int { return 2 }
func (e *throttledEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for range e.retried {
		usage.Throttled(ctx)
	}
	if e.fail {
		return nil, &pipeline.TransientError{Err: errors.New("429"), RetryAfter: time.Millisecond}
	}
	return make([][]float32, len(texts)), nil
}

// The budget tallies each call of work the dispatcher admitted under its
// verified scope: one request, the call's tokens (the chunker's counts when
// the call carries them, else estimated), the provider's 429s; a call
// refused by the tenant's own budget cost nothing; work without a verified
// scope is not attributed to anyone.
func TestBudgetRecordsUsageOfAdmittedWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	raw, err := tenantdb.OpenOperator(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	a, b, c, e := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	if err := tenantlimits.NewOperator(raw).Set(ctx, c, "ops", tenantlimits.Limits{Weight: 1, RequestsPerMinute: 1}); err != nil {
		t.Fatal(err)
	}
	s, _ := dispatch.New(4)
	d := &tenantlimits.Dispatcher{Scheduler: s, Limits: tenantlimits.NewCache(gw, time.Minute)}
	admitted := func(tenant uuid.UUID) context.Context {
		actx, rel, err := d.Acquire(ctx, tenantdbtest.Scope(t, tenant))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rel)
		return actx
	}
	rec := &recorded{got: map[uuid.UUID]usage.Counts{}}
	texts := []string{"abcdefgh", "ijkl"} // 3 + 2 estimated tokens

	if _, err := tenantlimits.NewBudget(&throttledEmbedder{retried: 2}).RecordUsage(rec).Embed(admitted(a), texts); err != nil {
		t.Fatal(err)
	}
	if _, err := tenantlimits.NewBudget(&throttledEmbedder{fail: true}).RecordUsage(rec).Embed(admitted(b), texts); err == nil {
		t.Fatal("the provider's 429 was swallowed")
	}
	// Not admitted through the dispatcher: WithLimits alone names a tenant
	// but carries no verified scope.
	loose := tenantlimits.WithLimits(ctx, a.String(), tenantlimits.Limits{})
	if _, err := tenantlimits.NewBudget(&throttledEmbedder{retried: 5}).RecordUsage(rec).Embed(loose, texts); err != nil {
		t.Fatal(err)
	}
	// c's budget is one request a minute: the second call is refused
	// before the provider and records no request.
	bc := tenantlimits.NewBudget(&throttledEmbedder{}).RecordUsage(rec)
	cctx := admitted(c)
	if _, err := bc.Embed(cctx, texts); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(cctx, 20*time.Millisecond)
	defer cancel()
	if _, err := bc.Embed(short, texts); !errors.Is(err, tenantlimits.ErrOverBudget) {
		t.Fatalf("over budget: %v", err)
	}
	// Chunks carry the chunker's counts: those are the tokens recorded.
	counted := pipeline.WithTokenCounts(admitted(e), []int{120, 80})
	if _, err := tenantlimits.NewBudget(&throttledEmbedder{}).RecordUsage(rec).Embed(counted, texts); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		tenant uuid.UUID
		want   usage.Counts
	}{
		{a, usage.Counts{Requests: 1, Tokens: 5, Throttled: 2}},
		{b, usage.Counts{Requests: 1, Tokens: 5, Throttled: 1}},
		{c, usage.Counts{Requests: 1, Tokens: 5}},
		{e, usage.Counts{Requests: 1, Tokens: 200}},
	} {
		if got := rec.got[tc.tenant]; got != tc.want {
			t.Errorf("tenant %s: %+v, want %+v", tc.tenant, got, tc.want)
		}
	}
	if len(rec.got) != 4 {
		t.Errorf("usage recorded for %d tenants, want 4", len(rec.got))
	}
}
