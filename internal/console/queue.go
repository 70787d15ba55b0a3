package console

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/dlq"
)

// Queue is a DeadLetters over SQS with internal/dlq's Inspector and
// Replayer: the same code as `tenantry dlq inspect|replay`.
type Queue struct {
	API      dlq.ReplayAPI
	Resolver dlq.Resolver
	// Gateway audits replays (not needed for dry runs).
	Gateway   dlq.Gateway
	DLQURL    string
	TargetURL string // default: the DLQ's source queue
	// Inspect and Replay tune the walks (QueueURL, DLQURL, Filter, Actor,
	// Reason, DryRun and the callbacks are set per call).
	InspectTuning dlq.InspectConfig
	ReplayTuning  dlq.ReplayConfig
	Logger        *zap.Logger
}

func (q *Queue) logger() *zap.Logger {
	if q.Logger == nil {
		return zap.NewNop()
	}
	return q.Logger
}

// Inspect implements DeadLetters.
func (q *Queue) Inspect(ctx context.Context) (*dlq.Report, error) {
	cfg := q.InspectTuning
	cfg.QueueURL = q.DLQURL
	in, err := dlq.NewInspector(cfg, q.API, q.Resolver, q.logger())
	if err != nil {
		return nil, err
	}
	return in.Inspect(ctx)
}

// Replay implements DeadLetters.
func (q *Queue) Replay(ctx context.Context, f dlq.Filter, actor, reason string, dryRun bool) ([]dlq.Result, dlq.Stats, error) {
	cfg := q.ReplayTuning
	cfg.DLQURL, cfg.TargetURL, cfg.Filter, cfg.Actor, cfg.Reason, cfg.DryRun = q.DLQURL, q.TargetURL, f, actor, reason, dryRun
	var out []dlq.Result
	cfg.OnResult = func(r dlq.Result) {
		if r.Outcome != dlq.OutcomeSkipped {
			out = append(out, r)
		}
	}
	var gw dlq.Gateway
	if !dryRun {
		if q.Gateway == nil {
			return nil, dlq.Stats{}, errors.New("replay needs the database gateway: " + ErrUnavailable.Error())
		}
		gw = q.Gateway
	}
	r, err := dlq.NewReplayer(cfg, q.API, q.Resolver, gw, q.logger())
	if err != nil {
		return nil, dlq.Stats{}, err
	}
	st, err := r.Replay(ctx)
	return out, st, err
}
