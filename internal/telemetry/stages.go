package telemetry

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantry/tenantry/pipeline"
)

// Stages is a pipeline.StageObserver that opens a span per stage
// (tenantry.stage.fetch, .extract, .chunk, .embed, .store, .flip) under the
// message's span. A span carries the stage and its number of chunks, and
// the error's type on failure, never document text.
type Stages struct {
	// Provider makes the spans (nil: the global provider).
	Provider trace.TracerProvider
}

var _ pipeline.StageObserver = Stages{}

// StageStart implements pipeline.StageObserver.
func (s Stages) StageStart(ctx context.Context, stage string, items int) (context.Context, func(error)) {
	attrs := []attribute.KeyValue{attribute.String("tenantry.stage", stage)}
	if items > 0 {
		attrs = append(attrs, attribute.Int("tenantry.chunks", items))
	}
	tr := Tracer()
	if s.Provider != nil {
		tr = s.Provider.Tracer(ScopeName)
	}
	ctx, span := tr.Start(ctx, "tenantry.stage."+stage, trace.WithAttributes(attrs...))
	return ctx, func(err error) { End(span, err) }
}

// End ends span, marking it failed with err's reason if err is not nil.
// The error's message is not recorded: it may quote a provider's answer or
// a parser's complaint about the document.
func End(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "failed")
		span.SetAttributes(attribute.String("error.type", errorType(err)))
	}
	span.End()
}

// errorType names err's kind without its text: the pipeline stage and a
// context error, or "error".
func errorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	if s := pipeline.StageOf(err); s != "" {
		return s
	}
	return "error"
}
