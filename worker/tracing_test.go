package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

// TestMessageSpans: each delivery is a consumer span that continues the
// producer's trace from the traceparent attribute (or starts one), carries
// the tenant and job ids the handler adds as log fields, and records the
// outcome's reason code, never the error's text.
func TestMessageSpans(t *testing.T) {
	t.Parallel()
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	src := memSource(workertest.Config{})
	failing := src.Push([]byte("fail"), map[string]string{"traceparent": "00-" + traceID + "-" + parent + "-01"})
	ok := src.Push([]byte("ok"), map[string]string{"traceparent": "garbage", "baggage": "tenant_id=someone-else"})
	h := worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		ctx = worker.WithLogFields(ctx, zap.String("tenant_id", "t-"+string(m.Body)), zap.String("job_id", "j-1"))
		_ = ctx
		if string(m.Body) == "fail" {
			return worker.Permanent(errors.New("page 3 says zebracorn"), "malformed_document")
		}
		return nil
	})
	cfg := baseConfig(src, h)
	cfg.Name = "spans-test"
	rr := start(t, cfg)
	waitFor(t, "both messages settled", func() bool { s := rr.r.Stats(); return s.Acked+s.DeadLettered == 2 })
	if err := rr.stop(t); err != nil {
		t.Fatal(err)
	}

	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.GetSpans().Snapshots() {
		if s.Name() != "spans-test process" {
			continue
		}
		for _, a := range s.Attributes() {
			if a.Key == "messaging.message.id" {
				byID[a.Value.AsString()] = s
			}
		}
	}
	f, o := byID[failing], byID[ok]
	if f == nil || o == nil {
		t.Fatalf("spans: %v", byID)
	}
	if f.SpanContext().TraceID().String() != traceID || f.Parent().SpanID().String() != parent || !f.Parent().IsRemote() {
		t.Errorf("failing message's span does not continue the producer's trace: %v / %v", f.SpanContext(), f.Parent())
	}
	if o.Parent().IsValid() {
		t.Errorf("a malformed traceparent was continued: %v", o.Parent())
	}
	if f.Status().Code != codes.Error || f.Status().Description != "malformed_document" || o.Status().Code != codes.Ok {
		t.Errorf("statuses %+v, %+v", f.Status(), o.Status())
	}
	attrs := map[string]string{}
	for _, a := range f.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
		if strings.Contains(a.Value.String(), "zebracorn") || strings.Contains(a.Value.String(), "someone-else") {
			t.Errorf("attribute %s = %q leaks", a.Key, a.Value.String())
		}
	}
	if attrs["tenant_id"] != "t-fail" || attrs["job_id"] != "j-1" || attrs["tenantry.reason"] != "malformed_document" {
		t.Errorf("attributes %v", attrs)
	}
	for _, a := range o.Attributes() {
		if strings.Contains(a.Value.String(), "someone-else") {
			t.Errorf("baggage reached the span: %s", a.Key)
		}
	}
}
