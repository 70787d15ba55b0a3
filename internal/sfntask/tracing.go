package sfntask

import (
	"context"
	"encoding/json"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantry/tenantry/internal/telemetry"
	"github.com/tenantry/tenantry/statemachine"
)

// startTaskSpan opens the span of one task. It continues the execution's
// trace (the start input's trace object, carried in the state as doc.trace)
// and links the span it was received under (the task queue message's), so
// both the pipeline's trace and the delivery are found.
func startTaskSpan(ctx context.Context, t *Task) (context.Context, trace.Span) {
	return startTaskSpanWith(ctx, otel.GetTracerProvider(), t)
}

func startTaskSpanWith(ctx context.Context, tp trace.TracerProvider, t *Task) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{trace.WithAttributes(attribute.String("tenantry.stage", string(t.Stage)),
		attribute.String("tenantry.execution", t.Execution))}
	if tc := taskTrace(t); len(tc) > 0 {
		if l := trace.LinkFromContext(ctx); l.SpanContext.IsValid() {
			opts = append(opts, trace.WithLinks(l))
		}
		ctx = telemetry.Extract(ctx, tc)
	}
	return tp.Tracer(telemetry.ScopeName).Start(ctx, "sfn.task "+string(t.Stage), opts...)
}

// taskTrace is the trace context a task carries: Verify's in the execution
// input, every later task's in doc. An invalid one is ignored.
func taskTrace(t *Task) map[string]string {
	var tc map[string]string
	switch {
	case t.Doc != nil:
		tc = t.Doc.Trace
	case len(t.Input) > 0:
		var in struct {
			Trace map[string]string `json:"trace"`
		}
		if json.Unmarshal(t.Input, &in) == nil {
			tc = in.Trace
		}
	}
	if !statemachine.ValidTrace(tc) {
		return nil
	}
	return tc
}
