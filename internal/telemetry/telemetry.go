package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// ScopeName is the instrumentation scope of every tenantry span.
const ScopeName = "github.com/tenantry/tenantry"

// Config turns tracing on. The zero value keeps it off: spans are no-ops and
// nothing is exported.
type Config struct {
	// OTLPEndpoint is the OTLP/HTTP traces URL, e.g.
	// http://127.0.0.1:4318/v1/traces ("": tracing off). A URL without a
	// path gets /v1/traces.
	OTLPEndpoint string
	// ServiceName is the service.name resource attribute (default tenantry).
	ServiceName string
	// Version is the service.version resource attribute.
	Version string
	// SampleRatio is the fraction of new traces sampled (default 1); a
	// trace started by a producer keeps the producer's decision.
	SampleRatio float64
	// BatchTimeout is the longest a span waits to be exported (default 5s).
	BatchTimeout time.Duration
}

// Setup installs the global tracer provider and the W3C trace-context
// propagator. With tracing off it installs only the propagator (a trace
// context received is passed on) and returns a no-op shutdown. Call the
// returned function before exit: it flushes the spans not yet exported.
func Setup(ctx context.Context, cfg Config, logger *zap.Logger) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(Propagator())
	if cfg.OTLPEndpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	endpoint, err := endpointURL(cfg.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	tp := NewProvider(cfg, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(withDefault(cfg.BatchTimeout, 5*time.Second))))
	otel.SetTracerProvider(tp)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("trace export failed", zap.Error(err))
	}))
	logger.Info("tracing on", zap.String("otlp_endpoint", endpoint))
	return tp.Shutdown, nil
}

// NewProvider returns a tracer provider with tenantry's resource and
// sampler, exporting through opts (sdktrace.WithBatcher or, in tests,
// sdktrace.WithSyncer on a tracetest.InMemoryExporter).
func NewProvider(cfg Config, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	name := cfg.ServiceName
	if name == "" {
		name = "tenantry"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	opts = append([]sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}, opts...)
	return sdktrace.NewTracerProvider(opts...)
}

// Propagator is the trace-context propagator tenantry uses on every
// transport: W3C traceparent/tracestate, no baggage.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// Tracer is tenantry's tracer from the global provider.
func Tracer() trace.Tracer { return otel.Tracer(ScopeName) }

func endpointURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("telemetry: OTLP endpoint must be an http(s) URL")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

func withDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
