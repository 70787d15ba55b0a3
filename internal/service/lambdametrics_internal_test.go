package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/internal/emf"
	"github.com/tenantry/tenantry/internal/sfntask"
)

type countingInvoker struct{ c prometheus.Counter }

func (i countingInvoker) Invoke(context.Context, []byte) (json.RawMessage, *sfntask.Failure) {
	i.c.Inc()
	return json.RawMessage(`{}`), nil
}

// TestLambdaWritesMetricsAfterEachInvocation: the Express variant's Lambda
// has no clock between invocations, so every invocation ends with its
// metrics written as embedded-metric-format lines.
func TestLambdaWritesMetricsAfterEachInvocation(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_tasks_total", Help: "tasks"})
	reg.MustRegister(c)
	var out bytes.Buffer
	w := emf.New(emf.Config{Interval: time.Hour, Namespace: "Tenantry/test", Output: &out}, reg, nil)
	inv := &flushingInvoker{next: countingInvoker{c}, emf: w, log: zap.NewNop()}
	for n := 1; n <= 2; n++ {
		if _, f := inv.Invoke(context.Background(), []byte(`{}`)); f != nil {
			t.Fatal(f)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) < n {
			t.Fatalf("after %d invocations: %d EMF lines:\n%s", n, len(lines), out.String())
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &doc); err != nil {
			t.Fatalf("line %d is not JSON: %v", n, err)
		}
		if _, ok := doc["_aws"]; !ok || doc["tenantry_tasks_total"] == nil {
			t.Fatalf("line %d: %v", n, doc)
		}
	}
}

// usageLog records the usage flushes and whether each one's context was
// live; err is what a flush returns.
type usageLog struct {
	flushes, live int
	err           error
}

func (u *usageLog) Flush(ctx context.Context) error {
	u.flushes++
	if ctx.Err() == nil {
		u.live++
	}
	return u.err
}

// TestLambdaFlushesUsageBeforeReturning: each invocation writes the
// tenants' provider usage tallied during it before it returns (a frozen
// Lambda would keep it in memory), with a context of its own (the
// invocation's may have ended), and a failed write is logged without
// changing the task's answer (the tally stays for the next flush).
func TestLambdaFlushesUsageBeforeReturning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		err     error
		cancel  bool
		wantLog int
	}{
		{name: "written"},
		{name: "written after the invocation's context ended", cancel: true},
		{name: "write failed", err: errors.New("database down"), wantLog: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zap.WarnLevel)
			u := &usageLog{err: tc.err}
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tasks", Help: "tasks"})
			inv := &flushingInvoker{next: countingInvoker{c}, usage: u, log: zap.New(core)}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			out, f := inv.Invoke(ctx, []byte(`{}`))
			if f != nil || string(out) != `{}` {
				t.Fatalf("answer %s %v, want the task's", out, f)
			}
			if u.flushes != 1 || u.live != 1 {
				t.Fatalf("%d flushes (%d with a live context), want 1 (1)", u.flushes, u.live)
			}
			if got := logs.FilterMessage("provider usage not written").Len(); got != tc.wantLog {
				t.Fatalf("%d warnings, want %d", got, tc.wantLog)
			}
		})
	}
}
