// Package telemetry owns tenantry's OpenTelemetry tracing: the tracer
// provider and its OTLP/HTTP exporter (off unless an endpoint is given), the
// W3C trace context carried in SQS message attributes and in Step Functions
// input, and the spans of the pipeline's stages.
//
// It must never put document text, SQL text or SQL parameters in a span:
// spans carry stage names, counts, sizes and the tenant and job ids only.
// It propagates trace context only (no baggage), so a producer cannot smuggle
// values into the worker's spans.
package telemetry
