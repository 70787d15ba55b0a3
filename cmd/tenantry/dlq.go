package main

import (
	"fmt"
	"os"
	"time"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/service"
)

// DLQCmd inspects and replays dead-letter queues.
type DLQCmd struct {
	Inspect DLQInspectCmd `cmd:"" help:"List a DLQ without consuming it: tenant (verified), action, resource, reason, stage, receives, age, replays."`
	Replay  DLQReplayCmd  `cmd:"" help:"Move selected messages back to their queue: re-verified, rate-limited, audited in each tenant's chain."`
	Redrive DLQRedriveCmd `cmd:"" help:"SQS's own unfiltered message-move tasks (start, list, cancel), where the server has them."`
}

// DLQSourceFlags name the DLQ and how its messages are verified.
type DLQSourceFlags struct {
	AWS      AWSFlags              `embed:""`
	S3       S3Endpoint            `embed:""`
	SQS      SQSEndpoint           `embed:""`
	KMS      KMSEndpoint           `embed:""`
	Envelope EnvelopeVerifierFlags `embed:""`
	DLQURL   string                `name:"dlq-url" env:"TENANTRY_DLQ_URL" required:"" help:"Dead-letter queue URL."`
	Buckets  []string              `name:"buckets" aliases:"bucket" env:"TENANTRY_BUCKETS" help:"Accept S3 events only for these buckets (as the worker; default: any)."`
}

func (f DLQSourceFlags) source() service.DLQSource {
	return service.DLQSource{AWS: f.AWS.settings(f.S3, f.SQS, f.KMS), Trust: f.Envelope.trust(), Buckets: f.Buckets}
}

// DLQFilterFlags select messages.
type DLQFilterFlags struct {
	Tenant           []string      `name:"tenant" help:"Only these tenants (verified tenant ids; repeat or comma-separate)."`
	DeadLetterReason []string      `name:"dead-letter-reason" help:"Only these dead-letter reason codes (e.g. handler_failed, redrive_policy)."`
	Stage            []string      `name:"stage" help:"Only these failed stages."`
	Since            time.Duration `name:"since" aliases:"max-age" help:"Only messages dead-lettered at most this long ago."`
	Until            time.Duration `name:"until" aliases:"min-age" help:"Only messages dead-lettered at least this long ago."`
	Message          []string      `name:"id" help:"Only these message ids (DLQ or original)."`
}

func (f DLQFilterFlags) filter() (dlq.Filter, error) {
	tenants, err := parseTenants(f.Tenant...)
	if err != nil {
		return dlq.Filter{}, err
	}
	out := dlq.Filter{Tenants: tenants, Reasons: f.DeadLetterReason, Stages: f.Stage, MinAge: f.Until, MaxAge: f.Since, IDs: f.Message}
	return out, out.Validate()
}

// DLQInspectCmd lists a DLQ.
type DLQInspectCmd struct {
	DLQSourceFlags `embed:""`
	DLQFilterFlags `embed:""`

	OutputFlags `embed:""`

	Limit      int           `name:"limit" default:"1000" help:"Most messages listed."`
	Visibility time.Duration `name:"visibility-timeout" default:"20s" help:"How long a read message stays hidden if this process dies before making it visible again (it is released at once otherwise)."`
}

// Run inspects.
func (c *DLQInspectCmd) Run(g *Globals) error {
	ctx := g.Context()
	f, err := c.filter()
	if err != nil {
		return err
	}
	return service.DLQInspect(ctx, c.source(), dlq.InspectConfig{QueueURL: c.DLQURL, Filter: f, Limit: c.Limit, VisibilityTimeout: c.Visibility},
		os.Stdout, c.format().IsJSON(), g.Logger())
}

// DLQReplayCmd replays.
type DLQReplayCmd struct {
	DLQSourceFlags `embed:""`
	DLQFilterFlags `embed:""`

	To          string  `name:"to" help:"Target queue URL (default: the DLQ's source queue, from its redrive policy)."`
	Reason      string  `name:"reason" required:"" help:"Why you replay (audited in every affected tenant's chain), e.g. \"embedder fixed, INC-42\"."`
	Actor       string  `name:"actor" env:"TENANTRY_ACTOR,TENANTRY_DLQ_ACTOR,USER" help:"Who replays (the audit rows' actor); default $USER, else the OS user."`
	DryRun      bool    `name:"dry-run" help:"Read and verify only: print what would move; send, delete and write nothing."`
	Rate        float64 `name:"rate" default:"10" help:"Most messages sent per second."`
	MaxReplays  int     `name:"max-replays" default:"3" help:"Refuse messages already replayed this many times (replay loops)."`
	Limit       int     `name:"limit" help:"Most messages replayed (0: all selected)."`
	OutputFlags `embed:""`
	MinValidity time.Duration `name:"min-validity" default:"1m" help:"Refuse envelopes that expire sooner than this (the worker must still accept them)."`
	DatabaseURL string        `name:"database-url" env:"TENANTRY_DATABASE_URL" help:"Worker role connection string (audit rows, security events); required unless --dry-run."`
}

// Run replays.
func (c *DLQReplayCmd) Run(g *Globals) error {
	ctx := g.Context()
	f, err := c.filter()
	if err != nil {
		return err
	}
	if c.Actor, err = dlq.OperatorActor(c.Actor); err != nil {
		return err
	}
	out := dlq.NewTerminalProgress(os.Stdout, os.Stderr, c.format().IsJSON(), c.DryRun)
	st, err := service.DLQReplay(ctx, c.source(), c.DatabaseURL, dlq.ReplayConfig{
		DLQURL: c.DLQURL, TargetURL: c.To, Filter: f, Reason: c.Reason, Actor: c.Actor, DryRun: c.DryRun,
		Rate: c.Rate, MaxReplays: c.MaxReplays, Limit: c.Limit, MinValidity: c.MinValidity,
		OnStart: out.Start, OnResult: out.Result,
	}, g.Logger())
	out.Finish(st)
	if err != nil {
		return err
	}
	if err := st.Err(); err != nil {
		return err
	}
	if n := st.Rejected + st.Refused; n > 0 {
		return exitcode.AsRefused(fmt.Errorf("%d selected message(s) refused: see above", n))
	}
	return nil
}

// DLQRedriveCmd wraps SQS message-move tasks.
type DLQRedriveCmd struct {
	Start  DLQRedriveStartCmd  `cmd:"" help:"Start moving every message of the DLQ (no filter, no verification, no audit)."`
	List   DLQRedriveListCmd   `cmd:"" help:"List the DLQ's recent message-move tasks."`
	Cancel DLQRedriveCancelCmd `cmd:"" help:"Cancel a running message-move task."`
}

// DLQRedriveFlags are the flags every redrive subcommand takes.
type DLQRedriveFlags struct {
	AWS    AWSFlags    `embed:""`
	SQS    SQSEndpoint `embed:""`
	DLQURL string      `name:"dlq-url" env:"TENANTRY_DLQ_URL" required:"" help:"Dead-letter queue URL."`
}

// DLQRedriveStartCmd starts a task.
type DLQRedriveStartCmd struct {
	DLQRedriveFlags `embed:""`
	To              string `name:"to" help:"Destination queue URL (default: each message's source queue)."`
	Rate            int32  `name:"rate" aliases:"max-per-second" help:"Most messages moved per second (default: SQS's)."`
}

// Run starts.
func (c *DLQRedriveStartCmd) Run(g *Globals) error {
	r, err := c.redriver(g)
	if err != nil {
		return err
	}
	h, err := r.Start(g.Context(), c.DLQURL, c.To, c.Rate)
	if err != nil {
		return err
	}
	fmt.Println("started message-move task", h)
	return nil
}

// DLQRedriveListCmd lists tasks.
type DLQRedriveListCmd struct {
	DLQRedriveFlags `embed:""`
	OutputFlags     `embed:""`
}

// Run lists.
func (c *DLQRedriveListCmd) Run(g *Globals) error {
	r, err := c.redriver(g)
	if err != nil {
		return err
	}
	tasks, err := r.List(g.Context(), c.DLQURL)
	if err != nil {
		return err
	}
	return dlq.WriteMoveTasks(os.Stdout, tasks, c.format().IsJSON())
}

// DLQRedriveCancelCmd cancels a task.
type DLQRedriveCancelCmd struct {
	AWS    AWSFlags    `embed:""`
	SQS    SQSEndpoint `embed:""`
	Handle string      `arg:"" help:"Task handle (from start or list)."`
}

// Run cancels.
func (c *DLQRedriveCancelCmd) Run(g *Globals) error {
	r, err := service.DLQRedriver(g.Context(), c.AWS.settings(c.SQS))
	if err != nil {
		return err
	}
	n, err := r.Cancel(g.Context(), c.Handle)
	if err != nil {
		return err
	}
	fmt.Printf("cancelled; %d message(s) had been moved\n", n)
	return nil
}

func (f DLQRedriveFlags) redriver(g *Globals) (*dlq.Redriver, error) {
	return service.DLQRedriver(g.Context(), f.AWS.settings(f.SQS))
}
