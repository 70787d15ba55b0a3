package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/audit"
)

func chain(t uuid.UUID, n int) []audit.Event {
	prev := audit.Genesis
	out := make([]audit.Event, n)
	for i := range out {
		e := audit.Event{TenantID: t, Seq: int64(i + 1), OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
			Actor: "a", JobID: "j", Action: "document.ingested", Resource: "s3://b/k", PayloadHash: "h", Detail: "{}", PrevHash: prev}
		e.Hash = audit.Hash(e)
		prev = e.Hash
		out[i] = e
	}
	return out
}

type memSource map[uuid.UUID][]audit.Event

func (m memSource) AuditTenants(context.Context) ([]uuid.UUID, error) {
	var out []uuid.UUID
	for k := range m {
		out = append(out, k)
	}
	return out, nil
}

func (m memSource) AuditHead(_ context.Context, t uuid.UUID) (int64, []byte, error) {
	ev := m[t]
	if len(ev) == 0 {
		return 0, nil, nil
	}
	return ev[len(ev)-1].Seq, ev[len(ev)-1].Hash, nil
}

func (m memSource) ScanAudit(_ context.Context, t uuid.UUID, fn func(audit.Event) error) error {
	for _, e := range m[t] {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func TestChainDetectsEveryKindOfTampering(t *testing.T) {
	t.Parallel()
	tn := uuid.New()
	cases := []struct {
		name   string
		mutate func([]audit.Event) []audit.Event
	}{
		{"altered field", func(e []audit.Event) []audit.Event { e[2].Resource = "s3://b/other"; return e }},
		{"altered time", func(e []audit.Event) []audit.Event { e[1].OccurredAt = e[1].OccurredAt.Add(time.Microsecond); return e }},
		{"deleted middle row", func(e []audit.Event) []audit.Event { return append(e[:2], e[3:]...) }},
		{"swapped rows", func(e []audit.Event) []audit.Event { e[1], e[2] = e[2], e[1]; return e }},
		{"rehashed row without relinking", func(e []audit.Event) []audit.Event {
			e[2].Detail = `{"x":1}`
			e[2].Hash = audit.Hash(e[2])
			return e
		}},
		{"row of another tenant", func(e []audit.Event) []audit.Event { e[0].TenantID = uuid.New(); return e }},
		{"field boundary shift", func(e []audit.Event) []audit.Event { e[0].Actor, e[0].JobID = "aj", ""; return e }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := tc.mutate(chain(tn, 5))
			c := audit.NewChain(tn)
			var err error
			for _, e := range ev {
				if err = c.Add(e); err != nil {
					break
				}
			}
			if !errors.Is(err, audit.ErrBroken) {
				t.Fatalf("tampering not detected: %v", err)
			}
		})
	}
	// Truncation at the end is caught by the head.
	ev := chain(tn, 5)
	c := audit.NewChain(tn)
	for _, e := range ev[:4] {
		if err := c.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(5, ev[4].Hash); !errors.Is(err, audit.ErrBroken) {
		t.Fatalf("truncation not detected: %v", err)
	}
}

func TestVerifyAll(t *testing.T) {
	t.Parallel()
	good, bad := uuid.New(), uuid.New()
	src := memSource{good: chain(good, 3), bad: chain(bad, 3)}
	src[bad][1].Action = "nothing.happened"
	reps, err := audit.VerifyAll(context.Background(), src, nil)
	if err != nil || len(reps) != 2 || !audit.Broken(reps) {
		t.Fatalf("reports %+v, err %v", reps, err)
	}
	for _, r := range reps {
		if (r.TenantID == good) != r.OK {
			t.Errorf("tenant %s: ok=%v", r.TenantID, r.OK)
		}
	}
}

func ExampleNewChain() {
	tenant := uuid.MustParse("6f1c1d2e-0000-4000-8000-000000000001")
	c := audit.NewChain(tenant)
	e := audit.Event{TenantID: tenant, Seq: 1, OccurredAt: time.Unix(0, 0), Action: "document.ingested", PrevHash: audit.Genesis}
	e.Hash = audit.Hash(e)
	fmt.Println(c.Add(e), c.Close(1, e.Hash))
	// Output: <nil> <nil>
}
