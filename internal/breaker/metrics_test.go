package breaker_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/worker"
)

// The breaker's metrics say which tenant they are about: transitions,
// state, parked, released, refused and turned-away tasks each carry the
// tenant_id of the tenant they describe, read back from the registry; one
// tenant's events never show on another's series, and a tenant whose
// breaker stayed closed has no state series.
func TestMetricsCarryTheTenant(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ConsecutiveFailures: 2, MinSamples: 1000, ReleaseRate: 1000})
	reg := prometheus.NewRegistry()
	m := breaker.NewMetrics(reg)
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, MinSamples: 1000, ReleaseRate: 1000}, e.gw, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := breaker.NewReleaser(b, e.gw, e.gate, e.sent)
	if err != nil {
		t.Fatal(err)
	}
	op := breaker.NewOperator(e.raw, breaker.NewMetrics(reg), nil) // the same registry: the same series
	a, other := uuid.New(), uuid.New()
	ida, idb := a.String(), other.String()

	// A trips, then its next message is parked and a junk message parked
	// under its scope is refused at release.
	for _, id := range []string{"f1", "f2"} {
		msg := e.deleteJob(t, a, "d-"+id, id)
		if _, err := b.Record(ctx, e.verify(t, msg), breaker.Outcome{JobID: id, Failed: true, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	msg := e.deleteJob(t, a, "d-p", "p")
	scopeA := e.verify(t, msg)
	if d, err := b.Guard(ctx, scopeA, msg, false); err != nil || d.Kept != "parked" {
		t.Fatalf("guard after the trip: %+v %v", d, err)
	}
	// B's message is deferred (the worker holds a backlog of B).
	msgB := e.deleteJob(t, other, "d-b", "b")
	if d, err := b.Guard(ctx, e.verify(t, msgB), msgB, true); err != nil || d.Kept != breaker.ReasonDeferred {
		t.Fatalf("guard of a backlogged tenant: %+v %v", d, err)
	}
	check := func(when string, want []series) {
		t.Helper()
		for _, w := range want {
			if got := testutil.ToFloat64(w.c); got != w.v {
				t.Errorf("%s: %s = %v, want %v", when, w.name, got, w.v)
			}
		}
	}
	check("after the trip", []series{
		{"Transitions ida, trip", m.Transitions.WithLabelValues(ida, "trip"), 1},
		{"State ida, open", m.State.WithLabelValues(ida, "open"), 1},
		{"State ida, closed", m.State.WithLabelValues(ida, "closed"), 0},
		{"Parked ida, breaker", m.Parked.WithLabelValues(ida, "breaker"), 1},
		{"Parked idb, deferred", m.Parked.WithLabelValues(idb, "deferred"), 1},
	})

	// An operator pauses A: a task is turned away; resumed, A's parked work
	// and B's deferred work are put back.
	if err := op.Pause(ctx, a, "alice", "drill"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AdmitTask(ctx, scopeA, "task-1"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a paused tenant's task: %v", err)
	}
	check("paused", []series{
		{"Transitions ida, pause", m.Transitions.WithLabelValues(ida, "pause"), 1},
		{"State ida, paused", m.State.WithLabelValues(ida, "paused"), 1},
		{"State ida, open", m.State.WithLabelValues(ida, "open"), 0},
		{"TasksRefused ida", m.TasksRefused.WithLabelValues(ida), 1},
	})
	if err := b.Park(ctx, scopeA, &worker.Message{ID: "junk", Body: []byte("not an event")}, "drill"); err != nil {
		t.Fatal(err)
	}
	if err := op.Resume(ctx, a, "alice", "drill over"); err != nil {
		t.Fatal(err)
	}
	if _, err := rel.ReleaseOnce(ctx); err != nil {
		t.Fatal(err)
	}
	check("resumed and released", []series{
		{"Transitions ida, resume", m.Transitions.WithLabelValues(ida, "resume"), 1},
		{"State ida, closed", m.State.WithLabelValues(ida, "closed"), 1},
		{"State ida, paused", m.State.WithLabelValues(ida, "paused"), 0},
		{"Parked ida, breaker", m.Parked.WithLabelValues(ida, "breaker"), 2},
		{"Released ida, breaker", m.Released.WithLabelValues(ida, "breaker"), 1},
		{"Refused ida", m.Refused.WithLabelValues(ida), 1},
		{"Released idb, deferred", m.Released.WithLabelValues(idb, "deferred"), 1},
	})

	// Every series names a tenant, and B has no transition of A's.
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			series++
			tenant := ""
			for _, l := range s.GetLabel() {
				if l.GetName() == "tenant_id" {
					tenant = l.GetValue()
				}
			}
			if tenant != ida && tenant != idb {
				t.Errorf("%s: a series without a tenant this test used: %v", f.GetName(), s.GetLabel())
			}
			if tenant == idb && (f.GetName() == "tenantry_breaker_transitions_total" || f.GetName() == "tenantry_breaker_state") {
				t.Errorf("tenant B, whose breaker stayed closed, has %s: %v", f.GetName(), s.GetLabel())
			}
		}
	}
	if series == 0 {
		t.Fatal("nothing registered")
	}
}

type series struct {
	name string
	c    prometheus.Collector
	v    float64
}
