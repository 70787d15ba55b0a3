package main

import (
	"os"
	"time"

	"github.com/tenantry/tenantry/internal/output"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/sfnctl"
)

// SfnCmd operates the pipeline state machine (docs/stepfunctions.md).
type SfnCmd struct {
	Start   SfnStartCmd   `cmd:"" help:"Start the pipeline for one uploaded object (the execution name refuses duplicates)."`
	Redrive SfnRedriveCmd `cmd:"" help:"Redrive failed Standard executions from the state that failed."`
	Replay  SfnReplayCmd  `cmd:"" help:"Replay failed Express executions from the failure queue."`
}

// sfnFlags are shared by the sfn subcommands.
type sfnFlags struct {
	AWS             AWSFlags    `embed:""`
	SFN             SFNEndpoint `embed:""`
	StateMachineARN string      `name:"state-machine-arn" env:"TENANTRY_SFN_STATE_MACHINE_ARN" required:"" help:"The pipeline state machine."`
}

// sfnFilterFlags select executions or failure records.
type sfnFilterFlags struct {
	Tenant string        `name:"tenant" help:"Only this tenant (UUID)."`
	Since  time.Duration `name:"since" help:"Only executions that stopped (redrive) or started (replay) at most this long ago."`
	Until  time.Duration `name:"until" help:"Only executions that stopped or started at least this long ago."`
	Errors []string      `name:"error" help:"Only these error names (repeat). Default: every error except the permanent ones (Tenantry.Permanent, Tenantry.EnvelopeRejected, ...)."`
	Limit  int           `name:"limit" help:"Act on at most this many (0: all)."`
	DryRun bool          `name:"dry-run" help:"Print what would be done; change nothing."`
	Rate   float64       `name:"rate" default:"5" help:"Step Functions calls per second."`
}

func (f sfnFilterFlags) filter() (sfnctl.Filter, error) {
	out := sfnctl.Filter{Errors: f.Errors, Limit: f.Limit, DryRun: f.DryRun}
	if f.Tenant != "" {
		t, err := parseTenant(f.Tenant)
		if err != nil {
			return out, err
		}
		out.Tenant = t
	}
	return out.Ago(time.Now(), f.Since, f.Until), nil
}

// SfnStartCmd starts one execution.
type SfnStartCmd struct {
	sfnFlags    `embed:""`
	S3          S3Endpoint            `embed:""`
	KMS         KMSEndpoint           `embed:""`
	Trust       EnvelopeVerifierFlags `embed:""`
	OutputFlags `embed:""`

	Bucket       string `name:"bucket" env:"TENANTRY_BUCKET,TENANTRY_UPLOAD_BUCKET" required:"" help:"Upload bucket."`
	Key          string `arg:"" help:"Object key ({tenant}/{document}/{filename})."`
	VersionID    string `name:"version-id" help:"Object version (default: the current one)."`
	Rerun        string `name:"rerun" help:"Start again an upload whose execution failed for good (any label; each label runs once)."`
	OmitEnvelope bool   `name:"omit-envelope" help:"Do not put the envelope in the execution input (the first task reads it from the object)."`
}

// Run starts the execution and prints it.
func (c *SfnStartCmd) Run(g *Globals) error {
	ctx := g.Context()
	ctl, err := service.SFNController(ctx, c.AWS.settings(c.SFN, c.S3, c.KMS), c.Trust.trust(), c.config(c.OmitEnvelope, 0), g.Logger())
	if err != nil {
		return err
	}
	st, err := ctl.Start(ctx, sfnctl.StartRequest{Bucket: c.Bucket, Key: c.Key, VersionID: c.VersionID, Rerun: c.Rerun})
	if err != nil {
		return err
	}
	return output.Write(os.Stdout, c.format(), map[string]any{"execution_arn": st.ExecutionARN, "name": st.Name, "tenant": st.Tenant, "duplicate": st.Duplicate})
}

func (c *sfnFlags) config(omitEnvelope bool, rate float64) sfnctl.Config {
	return sfnctl.Config{StateMachineARN: c.StateMachineARN, RatePerSecond: rate, OmitEnvelope: omitEnvelope}
}

// SfnRedriveCmd redrives failed Standard executions.
type SfnRedriveCmd struct {
	sfnFlags       `embed:""`
	sfnFilterFlags `embed:""`
}

// Run redrives and prints one JSON line per selected execution, then a summary.
func (c *SfnRedriveCmd) Run(g *Globals) error {
	f, err := c.filter()
	if err != nil {
		return err
	}
	return service.SFNRecover(g.Context(), c.AWS.settings(c.SFN), service.Trust{}, c.config(false, c.Rate), "", f, os.Stdout, g.Logger())
}

// SfnReplayCmd replays failed Express executions.
type SfnReplayCmd struct {
	sfnFlags       `embed:""`
	sfnFilterFlags `embed:""`
	S3             S3Endpoint            `embed:""`
	SQS            SQSEndpoint           `embed:""`
	KMS            KMSEndpoint           `embed:""`
	Trust          EnvelopeVerifierFlags `embed:""`

	QueueURL string `name:"failure-queue-url" aliases:"queue-url" env:"TENANTRY_SFN_FAILURE_QUEUE_URL" required:"" help:"The Express failure queue (the definition's FailureQueueUrl)."`
}

// Run replays and prints one JSON line per selected record, then a summary.
func (c *SfnReplayCmd) Run(g *Globals) error {
	f, err := c.filter()
	if err != nil {
		return err
	}
	return service.SFNRecover(g.Context(), c.AWS.settings(c.SFN, c.S3, c.SQS, c.KMS), c.Trust.trust(), c.config(false, c.Rate), c.QueueURL, f, os.Stdout, g.Logger())
}
