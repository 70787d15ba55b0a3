package tenantlimits_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/tenantlimits"
)

// noDB fails every read: the tenants run under Default.
type noDB struct{}

func (noDB) WithTenant(context.Context, tenantdb.Scope, func(context.Context, tenantdb.Tx) error) error {
	return errors.New("no database here")
}

// Every granted slot's wait is observed: at once, and after waiting for
// another tenant's slot; a caller that gives up is not.
func TestDispatchWaitObserved(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	wait := tenantlimits.NewDispatchWait(reg)
	if again := tenantlimits.NewDispatchWait(reg); again != wait {
		t.Error("a second registration made a second histogram")
	}
	s, _ := dispatch.New(1)
	d := &tenantlimits.Dispatcher{Scheduler: s, Limits: tenantlimits.NewCache(noDB{}, time.Minute), Wait: wait}
	ctx := context.Background()
	_, hold, err := d.Acquire(ctx, tenantdbtest.Scope(t, uuid.New()))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := d.Acquire(short, tenantdbtest.Scope(t, uuid.New())); err == nil {
		t.Fatal("granted on an ended context")
	}
	b := uuid.New()
	granted := make(chan time.Duration)
	go func() {
		start := time.Now()
		_, rel, err := d.Acquire(ctx, tenantdbtest.Scope(t, b))
		if err != nil {
			t.Error(err)
		}
		granted <- time.Since(start)
		rel()
	}()
	for s.Waiting(b.String()) == 0 {
		time.Sleep(time.Millisecond) // polling, not a fixed wait
	}
	hold()
	waited := <-granted
	var m dto.Metric
	if err := wait.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("%d waits observed, want 2 (the cancelled one is not)", n)
	}
	if sum := m.GetHistogram().GetSampleSum(); sum <= 0 || sum > waited.Seconds()+1 {
		t.Errorf("observed %.6fs in all, b waited %s", sum, waited)
	}
}
