package service

import "go.uber.org/zap"

// NewLogger returns the process logger on stderr: JSON (zap's production
// encoder) or console, at level (debug, info, warn, error).
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
	return cfg.Build()
}
