package worker

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// tracerName is the instrumentation scope of the runner's spans. Spans go to
// the global tracer provider (otel.SetTracerProvider): none is exported
// unless the process installs one.
const tracerName = "github.com/tenantry/tenantry/worker"

// startSpan opens the consumer span of one delivery, continuing the trace
// context found in the message's attributes (W3C traceparent/tracestate
// only: no baggage is taken from a producer).
func startSpan(ctx context.Context, runner string, m *Message) (context.Context, trace.Span) {
	if len(m.Attributes) > 0 {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(m.Attributes))
	}
	name := "process"
	if runner != "" {
		name = runner + " process"
	}
	return otel.Tracer(tracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.message.id", m.ID), attribute.Int("tenantry.receive_count", m.ReceiveCount)))
}

// endSpan records the handler's outcome on span: the reason code, never the
// error's text (it may quote a document or a provider's answer).
func endSpan(span trace.Span, err error) {
	if err == nil {
		span.SetStatus(codes.Ok, "")
		return
	}
	span.SetStatus(codes.Error, ReasonOf(err))
	span.SetAttributes(attribute.String("tenantry.reason", ReasonOf(err)), attribute.Bool("tenantry.permanent", IsPermanent(err)))
	if stage := StageOf(err); stage != "" {
		span.SetAttributes(attribute.String("tenantry.stage", stage))
	}
}

// spanFields copies the string and integer log fields a handler adds
// (tenant_id, job_id) to the current span.
func spanFields(ctx context.Context, fields []zap.Field) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	for _, f := range fields {
		switch f.Type {
		case zapcore.StringType:
			span.SetAttributes(attribute.String(f.Key, f.String))
		case zapcore.Int64Type, zapcore.Int32Type:
			span.SetAttributes(attribute.String(f.Key, strconv.FormatInt(f.Integer, 10)))
		}
	}
}
