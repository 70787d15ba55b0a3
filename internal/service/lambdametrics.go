package service

import (
	"context"
	"encoding/json"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/sfnlambda"
	"github.com/tenantry/tenantry/internal/sfntask"
)

// metricsFlusher is the part of *emf.Writer a Lambda invocation needs.
type metricsFlusher interface {
	Flush() error
}

// flushingInvoker writes the metrics after every invocation: a Lambda
// execution environment is frozen between invocations, so a ticking writer
// (the worker's) would lose or delay them. CloudWatch reads the lines from
// the function's log group.
type flushingInvoker struct {
	next sfnlambda.Invoker
	emf  metricsFlusher
	log  *zap.Logger
}

// Invoke implements sfnlambda.Invoker.
func (f *flushingInvoker) Invoke(ctx context.Context, payload []byte) (json.RawMessage, *sfntask.Failure) {
	out, fail := f.next.Invoke(ctx, payload)
	if err := f.emf.Flush(); err != nil {
		f.log.Warn("metrics not written", zap.Error(err))
	}
	return out, fail
}
