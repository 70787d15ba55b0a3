package sfntask

import (
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTaskSpans: a task's span continues the execution's trace (Verify from
// the input, later tasks from doc.trace) and links the delivery's span; an
// invalid trace object is ignored (the span stays under the delivery).
func TestTaskSpans(t *testing.T) {
	t.Parallel()
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tc := map[string]string{"traceparent": "00-" + traceID + "-" + parent + "-01"}
	input, _ := json.Marshal(map[string]any{"bucket": "b", "key": "t/d/f", "trace": tc})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	for _, c := range []struct {
		name      string
		task      *Task
		continues bool
	}{
		{"verify", &Task{Stage: StageVerify, Execution: "e", Input: input}, true},
		{"later", &Task{Stage: StageEmbed, Execution: "e", Doc: &DocRef{Trace: tc}}, true},
		{"no trace", &Task{Stage: StageEmbed, Execution: "e", Doc: &DocRef{}}, false},
		{"hostile", &Task{Stage: StageEmbed, Execution: "e", Doc: &DocRef{Trace: map[string]string{"traceparent": tc["traceparent"], "baggage": "x"}}}, false},
	} {
		delivery, dspan := tp.Tracer("runner").Start(context.Background(), "tasks process")
		_, span := startTaskSpanWith(delivery, tp, c.task)
		span.End()
		dspan.End()
		got := exp.GetSpans().Snapshots()
		s := got[len(got)-2]
		if s.Name() != "sfn.task "+string(c.task.Stage) {
			t.Fatalf("%s: span %s", c.name, s.Name())
		}
		continued := s.SpanContext().TraceID().String() == traceID && s.Parent().SpanID().String() == parent
		if continued != c.continues {
			t.Errorf("%s: continued = %v", c.name, continued)
		}
		if c.continues && (len(s.Links()) != 1 || s.Links()[0].SpanContext.SpanID() != dspan.SpanContext().SpanID()) {
			t.Errorf("%s: links %v, want the delivery's span", c.name, s.Links())
		}
		if !c.continues && s.Parent().SpanID() != dspan.SpanContext().SpanID() {
			t.Errorf("%s: not under the delivery's span", c.name)
		}
	}
}
