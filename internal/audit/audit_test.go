package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// VerifyChain checks one tenant's chain: every row, then the head. A watcher
// sees every row, also after a break (the console's timeline); without one
// the scan ends at the break. An error of the watcher ends the scan.
func TestVerifyChain(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	for _, tc := range []struct {
		name    string
		mutate  func([]audit.Event) []audit.Event
		watch   bool
		eachErr error
		wantOK  bool
		events  int64 // rows verified before any break
		seen    int   // rows the watcher saw
		problem string
		wantErr error
	}{
		{name: "intact", wantOK: true, events: 5},
		{name: "intact, watched", watch: true, wantOK: true, events: 5, seen: 5},
		{name: "altered row", mutate: func(ev []audit.Event) []audit.Event { ev[1].Detail = `{"x":1}`; return ev },
			events: 1, problem: "row altered"},
		{name: "altered row, watched", watch: true, mutate: func(ev []audit.Event) []audit.Event { ev[1].Detail = `{"x":1}`; return ev },
			events: 1, seen: 5, problem: "row altered"},
		{name: "tail deleted, head kept", mutate: func(ev []audit.Event) []audit.Event { return ev[:3] },
			events: 3, problem: "head is at seq 5"},
		{name: "watcher fails", watch: true, eachErr: stop, wantErr: stop, seen: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := uuid.New()
			full := chain(tn, 5)
			rows := append([]audit.Event(nil), full...)
			if tc.mutate != nil {
				rows = tc.mutate(rows)
			}
			// The stored head stays the full chain's.
			src := headSource{memSource: memSource{tn: rows}, seq: full[4].Seq, hash: full[4].Hash}
			seen := 0
			var each func(audit.Event) error
			if tc.watch {
				each = func(audit.Event) error { seen++; return tc.eachErr }
			}
			r, err := audit.VerifyChain(context.Background(), src, tn, each)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || seen != tc.seen {
					t.Fatalf("err %v after %d rows, want %v after %d", err, seen, tc.wantErr, tc.seen)
				}
				return
			}
			if err != nil || r.TenantID != tn || r.OK != tc.wantOK || r.Events != tc.events || seen != tc.seen ||
				(tc.problem == "") != (r.Problem == "") || !strings.Contains(r.Problem, tc.problem) {
				t.Fatalf("report %+v (watcher saw %d), err %v", r, seen, err)
			}
		})
	}
}

// headSource is a memSource whose stored head is given (rows can be lost
// while the head stays).
type headSource struct {
	memSource
	seq  int64
	hash []byte
}

func (h headSource) AuditHead(context.Context, uuid.UUID) (int64, []byte, error) {
	return h.seq, h.hash, nil
}

func ExampleNewChain() {
	tenant := uuid.MustParse("6f1c1d2e-0000-4000-8000-000000000001")
	c := audit.NewChain(tenant)
	e := audit.Event{TenantID: tenant, Seq: 1, OccurredAt: time.Unix(0, 0), Action: "document.ingested", PrevHash: audit.Genesis}
	e.Hash = audit.Hash(e)
	fmt.Println(c.Add(e), c.Close(1, e.Hash))
	// Output: <nil> <nil>
}

func ExampleVerifyChain() {
	tenant := uuid.MustParse("6f1c1d2e-0000-4000-8000-000000000001")
	src := memSource{tenant: chain(tenant, 3)}
	src[tenant][2].Detail = `{"rewritten":true}`
	r, err := audit.VerifyChain(context.Background(), src, tenant, nil)
	fmt.Println(r.OK, r.Events, r.Problem, err)
	// Output: false 2 audit chain broken: tenant 6f1c1d2e-0000-4000-8000-000000000001 at seq 3: hash does not match the row's content (row altered) <nil>
}
