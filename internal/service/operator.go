package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/s3relay"
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

// DLQInspect lists the DLQ cfg.QueueURL without consuming it, to w as
// tables or (asJSON) JSON lines.
func DLQInspect(ctx context.Context, src DLQSource, cfg dlq.InspectConfig, w io.Writer, asJSON bool, logger *zap.Logger) error {
	res, err := src.resolver(ctx, logger)
	if err != nil {
		return err
	}
	client, err := src.AWS.SQS(ctx)
	if err != nil {
		return err
	}
	in, err := dlq.NewInspector(cfg, client, res, logger)
	if err != nil {
		return err
	}
	rep, err := in.Inspect(ctx)
	switch {
	case rep == nil:
	case asJSON:
		dlq.WriteInspectJSON(w, rep)
	default:
		dlq.WriteInspectTable(w, rep)
	}
	return err
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

// SFNRecover redrives the failed Standard executions f selects or, with a
// queueURL, replays the failed Express executions recorded there. It writes
// one JSON line per selected execution to w, then a summary line; it fails
// if any selected could not be acted on.
func SFNRecover(ctx context.Context, a AWS, trust Trust, cfg sfnctl.Config, queueURL string, f sfnctl.Filter, w io.Writer, logger *zap.Logger) error {
	ctl, err := SFNController(ctx, a, trust, cfg, logger)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	report := func(o sfnctl.Outcome) { _ = enc.Encode(o.Line()) }
	var sum sfnctl.Summary
	if queueURL == "" {
		sum, err = ctl.Redrive(ctx, f, report)
	} else {
		sum, err = ctl.Replay(ctx, queueURL, f, report)
	}
	_ = enc.Encode(map[string]any{"summary": sum})
	if err == nil && sum.Failed > 0 {
		err = fmt.Errorf("%d of %d selected could not be acted on", sum.Failed, sum.Selected)
	}
	return err
}

// S3Relay relays the local S3 server's event webhook, served on listen,
// into the queue of cfg (the local stack's S3 notifications).
func S3Relay(ctx context.Context, a AWS, cfg s3relay.Config, listen string, logger *zap.Logger) error {
	client, err := a.SQS(ctx)
	if err != nil {
		return err
	}
	relay, err := s3relay.New(cfg, client, logger)
	if err != nil {
		return err
	}
	return relay.ListenAndServe(ctx, listen)
}
