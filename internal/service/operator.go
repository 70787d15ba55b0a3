package service

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// DLQSource names a dead-letter queue and how its messages are verified:
// through the gate, with the worker's own trust and bucket allowlist.
type DLQSource struct {
	AWS     AWS
	Trust   Trust
	Buckets []string
}

func (s DLQSource) resolver(ctx context.Context, logger *zap.Logger) (*dlq.EnvelopeResolver, error) {
	v, err := s.Trust.Verifier(ctx, s.AWS, logger)
	if err != nil {
		return nil, err
	}
	s3c, err := s.AWS.S3(ctx)
	if err != nil {
		return nil, err
	}
	return &dlq.EnvelopeResolver{Verifier: v, Objects: objects.New(s3c), Buckets: s.Buckets}, nil
}

// DLQInspect lists the DLQ cfg.QueueURL without consuming it.
func DLQInspect(ctx context.Context, src DLQSource, cfg dlq.InspectConfig, logger *zap.Logger) (*dlq.Report, error) {
	res, err := src.resolver(ctx, logger)
	if err != nil {
		return nil, err
	}
	client, err := src.AWS.SQS(ctx)
	if err != nil {
		return nil, err
	}
	in, err := dlq.NewInspector(cfg, client, res, logger)
	if err != nil {
		return nil, err
	}
	return in.Inspect(ctx)
}

// DLQReplay replays selected messages of cfg.DLQURL, re-verified through
// the gate and audited in each tenant's chain through the worker role's
// gateway (databaseURL; not needed for a dry run).
func DLQReplay(ctx context.Context, src DLQSource, databaseURL string, cfg dlq.ReplayConfig, logger *zap.Logger) (dlq.Stats, error) {
	var gw dlq.Gateway
	if !cfg.DryRun {
		if databaseURL == "" {
			return dlq.Stats{}, errors.New("a database URL (TENANTRY_DATABASE_URL) is required to audit a replay (or use a dry run)")
		}
		db, err := tenantdb.Open(ctx, tenantdb.Config{URL: databaseURL, MaxConns: 2, Logger: logger})
		if err != nil {
			return dlq.Stats{}, err
		}
		defer db.Close()
		gw = db
	}
	res, err := src.resolver(ctx, logger)
	if err != nil {
		return dlq.Stats{}, err
	}
	client, err := src.AWS.SQS(ctx)
	if err != nil {
		return dlq.Stats{}, err
	}
	r, err := dlq.NewReplayer(cfg, client, res, gw, logger)
	if err != nil {
		return dlq.Stats{}, err
	}
	return r.Replay(ctx)
}

// DLQRedriver returns SQS's own (unfiltered, unverified) message mover.
func DLQRedriver(ctx context.Context, a AWS) (*dlq.Redriver, error) {
	client, err := a.SQS(ctx)
	if err != nil {
		return nil, err
	}
	return dlq.NewRedriver(client), nil
}

// SFNController builds the Step Functions controller. With trust (any
// issuer), Start and Replay establish tenants through the gate; without,
// only Redrive works.
func SFNController(ctx context.Context, a AWS, trust Trust, cfg sfnctl.Config, logger *zap.Logger) (*sfnctl.Controller, error) {
	client, err := a.SFN(ctx)
	if err != nil {
		return nil, err
	}
	deps := sfnctl.Deps{SFN: client, Logger: logger}
	if len(trust.Issuers) > 0 {
		s3c, err := a.S3(ctx)
		if err != nil {
			return nil, err
		}
		if deps.SQS, err = a.SQS(ctx); err != nil {
			return nil, err
		}
		v, err := trust.Verifier(ctx, a, logger)
		if err != nil {
			return nil, err
		}
		deps.Gate = &binding.Resolver{Verifier: v, Objects: objects.New(s3c)}
	}
	return sfnctl.New(cfg, deps)
}
