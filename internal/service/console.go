package service

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/client"
	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// ConsoleConfig is `tenantry console`, the operator console.
type ConsoleConfig struct {
	Console console.Config
	Listen  string // default 127.0.0.1:8090
	// Breaker tunes the per-tenant breakers the console pauses and resumes
	// (the worker's own settings; defaults when zero).
	Breaker breaker.Config
	// OwnerURL is the owner role: the read-only view of every tenant
	// (tenantdb.ConsoleReader). Required.
	OwnerURL string
	// DatabaseURL is the worker role: operator audit events and replays go
	// through its gateway (WithTenant). "": actions that write are
	// unavailable.
	DatabaseURL string
	// DLQ is the worker's trust (it also verifies the console's operator
	// envelopes); DLQURL the dead-letter queue ("": no DLQ views).
	DLQ    DLQSource
	DLQURL string
	// JobQueueURL is where reindex jobs go ("": reindex unavailable).
	JobQueueURL string
	// StateMachineARN lists documents' Step Functions executions ("": none).
	StateMachineARN string
	// Signing is the console's own envelope key and Issuer its iss (which
	// the worker's trust must list): operator events and reindex jobs are
	// signed with it. No key: actions that write are unavailable.
	Signing  Signing
	Issuer   string
	Audience string // default "tenantry"
}

// Console serves the operator console until ctx ends. Pause and resume
// reach a tenant's breaker through an operator envelope the gate verifies;
// without a signing key, the gate's trust and the worker database they
// answer "not available" (console.NoControl), never a fake. The pages read
// every breaker's state through the owner role's read-only view.
func Console(ctx context.Context, cfg ConsoleConfig, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8090"
	}
	if cfg.Audience == "" {
		cfg.Audience = "tenantry"
	}
	reader, err := tenantdb.OpenConsoleReader(ctx, cfg.OwnerURL)
	if err != nil {
		return err
	}
	defer reader.Close()
	deps := console.Deps{Reader: reader, Control: console.NoControl{}}
	var db *tenantdb.DB
	if cfg.DatabaseURL != "" {
		if db, err = tenantdb.Open(ctx, tenantdb.Config{URL: cfg.DatabaseURL, MaxConns: 4, Logger: logger}); err != nil {
			return err
		}
		defer db.Close()
	}
	var gate *binding.Resolver
	if len(cfg.DLQ.Trust.Issuers) > 0 {
		res, err := cfg.DLQ.resolver(ctx, logger)
		if err != nil {
			return err
		}
		gate = &binding.Resolver{Verifier: res.Verifier}
		if cfg.DLQURL != "" {
			client, err := cfg.DLQ.AWS.SQS(ctx)
			if err != nil {
				return err
			}
			q := &console.Queue{API: client, Resolver: res, DLQURL: cfg.DLQURL, Logger: logger}
			if db != nil {
				q.Gateway = db
			}
			deps.DLQ = q
		}
	}
	if cfg.Signing.KeyFile != "" || cfg.Signing.KMSKeyID != "" {
		if cfg.Issuer == "" {
			return errors.New("console: a signing key needs its issuer (the iss the worker trusts)")
		}
		signer, err := cfg.Signing.Signer(ctx, cfg.DLQ.AWS)
		if err != nil {
			return err
		}
		op, err := envelope.NewIssuer(signer, envelope.IssuerConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: time.Minute})
		if err != nil {
			return err
		}
		if gate != nil && db != nil {
			deps.Recorder = &console.GateRecorder{Issuer: op, Gate: gate, Gateway: db}
			brk, err := breaker.New(cfg.Breaker, db, nil, logger)
			if err != nil {
				return err
			}
			deps.Control = &console.GateControl{Issuer: op, Gate: gate, Breaker: brk}
		}
		if cfg.JobQueueURL != "" {
			sqsClient, err := cfg.DLQ.AWS.SQS(ctx)
			if err != nil {
				return err
			}
			jobs, err := client.New(client.Config{Signer: signer, Issuer: cfg.Issuer, Audience: cfg.Audience,
				SQS: sqsClient, QueueURL: cfg.JobQueueURL, Logger: logger})
			if err != nil {
				return err
			}
			deps.Reindexer = &console.JobReindexer{Client: jobs, Reader: reader}
		}
	}
	if cfg.StateMachineARN != "" {
		client, err := cfg.DLQ.AWS.SFN(ctx)
		if err != nil {
			return err
		}
		deps.Executions = &console.Executions{API: client, StateMachineARN: cfg.StateMachineARN}
	}
	logger.Info("console: dependencies", zap.Bool("dlq", deps.DLQ != nil), zap.Bool("recorder", deps.Recorder != nil),
		zap.Bool("reindex", deps.Reindexer != nil), zap.Bool("breaker", deps.Control != nil))
	srv, err := console.New(ctx, cfg.Console, deps, logger)
	if err != nil {
		return err
	}
	return srv.ListenAndServe(ctx, cfg.Listen)
}
