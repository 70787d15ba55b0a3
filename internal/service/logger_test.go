package service

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestErrorLinesAreNeverSampled: a burst of identical lines is sampled below
// error level, but every error line is written (alarms count them). With
// zap's production sampling (the protection removed) the error burst is cut
// to the first 100 and every 100th.
func TestErrorLinesAreNeverSampled(t *testing.T) {
	t.Parallel()
	prod := zap.NewProductionConfig().Sampling
	const burst = 1000
	for _, tc := range []struct {
		name       string
		core       func(zapcore.Core) zapcore.Core
		wantErrors int
	}{
		{"ours", func(c zapcore.Core) zapcore.Core { return sampleBelowError(c, prod) }, burst},
		{"zap's default", func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, 1e9, prod.Initial, prod.Thereafter)
		}, prod.Initial + (burst-prod.Initial)/prod.Thereafter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obs, logs := observer.New(zapcore.DebugLevel)
			log := zap.New(tc.core(obs)).With(zap.String("tenant_id", "t"))
			for range burst {
				log.Info("message handled")
				log.Error("message failed", zap.String("reason", "transient"))
				log.Warn("slow")
			}
			if n := logs.FilterMessage("message failed").Len(); n != tc.wantErrors {
				t.Fatalf("%d error lines written of %d, want %d", n, burst, tc.wantErrors)
			}
			if n := logs.FilterMessage("message handled").Len(); n >= burst {
				t.Fatalf("info lines not sampled: %d", n)
			}
			for _, e := range logs.FilterMessage("message failed").All() {
				if e.ContextMap()["tenant_id"] != "t" {
					t.Fatal("fields lost on the unsampled path")
				}
			}
		})
	}
}

// TestNewLoggerKeepsErrors: the process logger is built with that core.
func TestNewLoggerKeepsErrors(t *testing.T) {
	t.Parallel()
	for _, json := range []bool{true, false} {
		log, err := NewLogger("error", json)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		log = log.WithOptions(zap.Hooks(func(zapcore.Entry) error { n++; return nil }))
		for range 300 {
			log.Error("burst")
		}
		if n != 300 {
			t.Fatalf("json=%v: %d of 300 error lines written", json, n)
		}
	}
	if _, err := NewLogger("loud", true); err == nil {
		t.Fatal("unknown level accepted")
	}
}
