package service

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

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
