package main

import (
	"time"

	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/telemetry"
)

// TelemetryFlags turn on tracing export and CloudWatch metrics (both off by
// default), for the worker and the Lambda task function.
type TelemetryFlags struct {
	OTLPEndpoint     string        `name:"otlp-url" env:"TENANTRY_OTLP_URL" help:"Export OpenTelemetry traces over OTLP/HTTP to this URL (e.g. http://127.0.0.1:4318; \"\": tracing off)."`
	TraceSampleRatio float64       `name:"trace-sample-ratio" env:"TENANTRY_TRACE_SAMPLE_RATIO" default:"1" help:"Fraction of new traces sampled (a producer's trace keeps its own decision)."`
	EMFInterval      time.Duration `name:"emf-interval" env:"TENANTRY_EMF_INTERVAL" default:"0s" help:"Write the metrics to stdout as CloudWatch embedded metric format lines at this interval (0: off)."`
	EMFNamespace     string        `name:"emf-namespace" env:"TENANTRY_EMF_NAMESPACE" default:"tenantry" help:"CloudWatch namespace of the embedded-metric-format lines."`
}

// apply adds the telemetry settings to cfg.
func (t TelemetryFlags) apply(cfg service.Config) service.Config {
	cfg.Telemetry = telemetry.Config{OTLPEndpoint: t.OTLPEndpoint, SampleRatio: t.TraceSampleRatio, Version: version}
	cfg.EMFInterval, cfg.EMFNamespace = t.EMFInterval, t.EMFNamespace
	return cfg
}
