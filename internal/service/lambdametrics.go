package service

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/sfnlambda"
	"github.com/tenantry/tenantry/internal/sfntask"
)

// metricsFlusher is the part of *emf.Writer a Lambda invocation needs.
type metricsFlusher interface {
	Flush() error
}

// usageFlusher is the part of *usage.Meter a Lambda invocation needs.
type usageFlusher interface {
	Flush(ctx context.Context) error
}

// usageFlushTimeout bounds the usage flush after an invocation (a few
// scoped upserts; the invocation's own deadline may have passed).
const usageFlushTimeout = 5 * time.Second

// flushingInvoker writes what the invocation tallied before it returns: a
// Lambda execution environment is frozen between invocations (and may never
// thaw), so a ticking writer (the worker's) would lose or delay it. The
// tenants' provider usage goes to the database (usage, if set); the
// metrics are written as embedded-metric-format lines (emf, if set), which
// CloudWatch reads from the function's log group.
type flushingInvoker struct {
	next  sfnlambda.Invoker
	usage usageFlusher
	emf   metricsFlusher
	log   *zap.Logger
}

// Invoke implements sfnlambda.Invoker.
func (f *flushingInvoker) Invoke(ctx context.Context, payload []byte) (json.RawMessage, *sfntask.Failure) {
	out, fail := f.next.Invoke(ctx, payload)
	if f.usage != nil {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), usageFlushTimeout)
		if err := f.usage.Flush(uctx); err != nil {
			// Kept in memory for the next invocation's flush.
			f.log.Warn("provider usage not written", zap.Error(err))
		}
		cancel()
	}
	if f.emf != nil {
		if err := f.emf.Flush(); err != nil {
			f.log.Warn("metrics not written", zap.Error(err))
		}
	}
	return out, fail
}
