package telemetry_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantry/tenantry/internal/telemetry"
)

// A producer puts its trace context in an SQS message's attributes; the
// worker continues that trace from the attributes it receives.
func ExampleInjectSQS() {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("backend").Start(context.Background(), "upload")
	defer span.End()

	attrs := telemetry.InjectSQS(ctx, nil) // set as SendMessageInput.MessageAttributes
	received := map[string]string{"traceparent": *attrs["traceparent"].StringValue}

	remote := trace.SpanContextFromContext(telemetry.Extract(context.Background(), received))
	fmt.Println(remote.TraceID() == span.SpanContext().TraceID(), remote.IsRemote())
	// Output: true true
}
