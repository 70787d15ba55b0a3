package service

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger returns the process logger: JSON (zap's production encoder) or
// the development console encoder, at level. Like zap's production config
// it samples repeated lines (the first 100 of a message per second, then
// every 100th), but only below error level: an error line is never sampled
// away, since alarms count them.
func NewLogger(level string, json bool) (*zap.Logger, error) {
	cfg := zap.NewDevelopmentConfig()
	if json {
		cfg = zap.NewProductionConfig()
	}
	lvl, err := zap.ParseAtomicLevel(level)
	if err != nil {
		return nil, err
	}
	cfg.Level = lvl
	cfg.OutputPaths = []string{"stderr"}
	sampling := cfg.Sampling
	cfg.Sampling = nil // sampled below, by level
	return cfg.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return sampleBelowError(c, sampling) }))
}

// sampleBelowError samples c's lines below error level as s says (nil: no
// sampling) and passes error, panic and fatal lines through unsampled.
func sampleBelowError(c zapcore.Core, s *zap.SamplingConfig) zapcore.Core {
	if s == nil {
		return c
	}
	sampled := zapcore.NewSamplerWithOptions(levelCore{c, func(l zapcore.Level) bool { return l < zapcore.ErrorLevel }},
		time.Second, s.Initial, s.Thereafter)
	return zapcore.NewTee(sampled, levelCore{c, func(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }})
}

// levelCore is c restricted to the levels keep accepts.
type levelCore struct {
	zapcore.Core
	keep func(zapcore.Level) bool
}

func (l levelCore) Enabled(lvl zapcore.Level) bool { return l.keep(lvl) && l.Core.Enabled(lvl) }

func (l levelCore) With(fields []zapcore.Field) zapcore.Core {
	return levelCore{l.Core.With(fields), l.keep}
}

func (l levelCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !l.keep(e.Level) {
		return ce
	}
	return l.Core.Check(e, ce)
}
