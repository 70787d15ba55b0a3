package telemetry_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantry/tenantry/internal/telemetry"
	"github.com/tenantry/tenantry/pipeline"
)

func newTracer(t *testing.T) (*tracetest.InMemoryExporter, trace.Tracer) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := telemetry.NewProvider(telemetry.Config{}, sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return exp, tp.Tracer("test")
}

func TestPropagation(t *testing.T) {
	t.Parallel()
	_, tr := newTracer(t)
	ctx, span := tr.Start(context.Background(), "producer")
	defer span.End()

	t.Run("SQS attributes round trip", func(t *testing.T) {
		t.Parallel()
		attrs := telemetry.InjectSQS(ctx, map[string]sqstypes.MessageAttributeValue{})
		tp, ok := attrs["traceparent"]
		if !ok || *tp.DataType != "String" {
			t.Fatalf("no String traceparent attribute: %v", attrs)
		}
		got := trace.SpanContextFromContext(telemetry.Extract(context.Background(), map[string]string{"traceparent": *tp.StringValue}))
		if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() {
			t.Fatalf("extracted %v, want the producer's span", got)
		}
	})
	t.Run("map round trip (Step Functions input)", func(t *testing.T) {
		t.Parallel()
		m := map[string]string{}
		telemetry.Inject(ctx, m)
		if got := trace.SpanContextFromContext(telemetry.Extract(context.Background(), m)); got.TraceID() != span.SpanContext().TraceID() {
			t.Fatalf("extracted %v", got)
		}
	})
	t.Run("no span, no attribute", func(t *testing.T) {
		t.Parallel()
		if attrs := telemetry.InjectSQS(context.Background(), nil); attrs != nil {
			t.Fatalf("attributes without a span: %v", attrs)
		}
		keep := map[string]sqstypes.MessageAttributeValue{"producer": {}}
		if attrs := telemetry.InjectSQS(context.Background(), keep); len(attrs) != 1 {
			t.Fatalf("attributes changed without a span: %v", attrs)
		}
	})
}

// TestExtractFromTheAttackersSide: a producer controls the attributes. A
// malformed context starts a new trace, and nothing but the W3C trace
// context is taken (no baggage reaches the worker's spans).
func TestExtractFromTheAttackersSide(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]map[string]string{
		"garbage":           {"traceparent": "not a traceparent"},
		"zero trace id":     {"traceparent": "00-00000000000000000000000000000000-0000000000000001-01"},
		"version ff":        {"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"oversized":         {"traceparent": "00-" + strings.Repeat("a", 4096)},
		"wrong header name": {"Traceparent ": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"baggage only":      {"baggage": "tenant_id=someone-else"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := telemetry.Extract(context.Background(), m)
			if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
				t.Fatalf("accepted %v as a trace context", m)
			}
		})
	}
}

// global is the in-memory exporter behind the global provider the stage
// spans use (installed once for the package's tests).
var global = tracetest.NewInMemoryExporter()

func TestMain(m *testing.M) {
	otel.SetTracerProvider(telemetry.NewProvider(telemetry.Config{}, sdktrace.WithSyncer(global)))
	os.Exit(m.Run())
}

func TestStages(t *testing.T) {
	t.Parallel()
	ctx, parent := telemetry.Tracer().Start(context.Background(), "message")
	var obs pipeline.StageObserver = telemetry.Stages{}
	ectx, endEmbed := obs.StageStart(ctx, "embed", 64)
	_, endInner := obs.StageStart(ectx, "store", 0)
	endInner(nil)
	endEmbed(errors.New("provider said: zebracorn"))
	parent.End()
	var got []sdktrace.ReadOnlySpan
	for _, s := range global.GetSpans().Snapshots() {
		if s.SpanContext().TraceID() == parent.SpanContext().TraceID() {
			got = append(got, s)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d spans in the trace, want 3", len(got))
	}
	store, embed := got[0], got[1]
	if store.Name() != "tenantry.stage.store" || embed.Name() != "tenantry.stage.embed" {
		t.Fatalf("names %s, %s", store.Name(), embed.Name())
	}
	if store.Parent().SpanID() != embed.SpanContext().SpanID() || embed.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatal("stage spans do not nest")
	}
	if embed.Status().Code != codes.Error || strings.Contains(embed.Status().Description, "zebracorn") {
		t.Fatalf("embed status %+v", embed.Status())
	}
	var chunks int64
	for _, a := range embed.Attributes() {
		if a.Key == "tenantry.chunks" {
			chunks = a.Value.AsInt64()
		}
	}
	if chunks != 64 {
		t.Fatalf("tenantry.chunks = %d", chunks)
	}
}

func TestEndRecordsNoErrorText(t *testing.T) {
	t.Parallel()
	exp, tr := newTracer(t)
	for _, err := range []error{nil, &pipeline.StageError{Stage: "extract", Err: errors.New("page 3 says: zebracorn secret")}, context.Canceled} {
		_, span := tr.Start(context.Background(), "stage")
		telemetry.End(span, err)
	}
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	if spans[0].Status.Code == codes.Error || spans[1].Status.Code != codes.Error {
		t.Fatalf("statuses %v %v", spans[0].Status, spans[1].Status)
	}
	for _, s := range spans {
		if strings.Contains(s.Status.Description, "zebracorn") || len(s.Events) > 0 {
			t.Fatalf("span carries the error text: %+v", s)
		}
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.String(), "zebracorn") {
				t.Fatalf("attribute %s carries the error text", a.Key)
			}
		}
	}
	if got := spans[1].Attributes; len(got) != 1 || got[0].Value.AsString() != "extract" {
		t.Fatalf("error.type = %v, want extract", got)
	}
}

func TestSetup(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"ftp://x", "127.0.0.1:4318", "http://", "://"} {
		if _, err := telemetry.Setup(context.Background(), telemetry.Config{OTLPEndpoint: bad}, nil); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
	shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
