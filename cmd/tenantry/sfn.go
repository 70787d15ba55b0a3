package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

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
	AWS             AWSFlags `embed:""`
	StateMachineARN string   `name:"state-machine-arn" env:"TENANTRY_SFN_STATE_MACHINE_ARN" required:"" help:"The pipeline state machine."`
	Rate            float64  `name:"rate" default:"5" help:"Step Functions calls per second (redrive, replay)."`
}

// sfnFilterFlags select executions or failure records.
type sfnFilterFlags struct {
	Tenant string        `name:"tenant" help:"Only this tenant (UUID)."`
	Since  time.Duration `name:"since" help:"Only executions that stopped (redrive) or started (replay) at most this long ago."`
	Until  time.Duration `name:"until" help:"Only executions that stopped or started at least this long ago."`
	Errors []string      `name:"error" help:"Only these error names (repeat). Default: every error except the permanent ones (Tenantry.Permanent, Tenantry.EnvelopeRejected, ...)."`
	Limit  int           `name:"limit" help:"Act on at most this many (0: all)."`
	DryRun bool          `name:"dry-run" help:"Print what would be done; change nothing."`
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
	now := time.Now()
	if f.Since > 0 {
		out.Since = now.Add(-f.Since)
	}
	if f.Until > 0 {
		out.Until = now.Add(-f.Until)
	}
	return out, nil
}

// SfnStartCmd starts one execution.
type SfnStartCmd struct {
	sfnFlags `embed:""`
	Trust    EnvelopeVerifierFlags `embed:""`

	Bucket       string `name:"bucket" env:"TENANTRY_BUCKET" required:"" help:"Upload bucket."`
	Key          string `arg:"" help:"Object key ({tenant}/{document}/{filename})."`
	VersionID    string `name:"version-id" help:"Object version (default: the current one)."`
	Rerun        string `name:"rerun" help:"Start again an upload whose execution failed for good (any label; each label runs once)."`
	OmitEnvelope bool   `name:"omit-envelope" help:"Do not put the envelope in the execution input (the first task reads it from the object)."`
}

// Run starts the execution and prints it.
func (c *SfnStartCmd) Run(g *Globals) error {
	ctx := g.Context()
	ctl, err := c.controller(g, c.OmitEnvelope, c.Trust)
	if err != nil {
		return err
	}
	st, err := ctl.Start(ctx, sfnctl.StartRequest{Bucket: c.Bucket, Key: c.Key, VersionID: c.VersionID, Rerun: c.Rerun})
	if err != nil {
		return err
	}
	return printJSON(map[string]any{"executionArn": st.ExecutionARN, "name": st.Name, "tenant": st.Tenant, "duplicate": st.Duplicate})
}

func (c *sfnFlags) controller(g *Globals, omitEnvelope bool, verify EnvelopeVerifierFlags) (*sfnctl.Controller, error) {
	return service.SFNController(g.Context(), c.AWS.settings(), verify.trust(),
		sfnctl.Config{StateMachineARN: c.StateMachineARN, RatePerSecond: c.Rate, OmitEnvelope: omitEnvelope}, g.Logger())
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
	ctl, err := c.controller(g, false, EnvelopeVerifierFlags{})
	if err != nil {
		return err
	}
	sum, err := ctl.Redrive(g.Context(), f, printOutcome)
	return finish(sum, err)
}

// SfnReplayCmd replays failed Express executions.
type SfnReplayCmd struct {
	sfnFlags       `embed:""`
	sfnFilterFlags `embed:""`
	Trust          EnvelopeVerifierFlags `embed:""`

	QueueURL string `name:"queue-url" env:"TENANTRY_SFN_FAILURE_QUEUE_URL" required:"" help:"The Express failure queue (the definition's FailureQueueUrl)."`
}

// Run replays and prints one JSON line per selected record, then a summary.
func (c *SfnReplayCmd) Run(g *Globals) error {
	f, err := c.filter()
	if err != nil {
		return err
	}
	ctl, err := c.controller(g, false, c.Trust)
	if err != nil {
		return err
	}
	sum, err := ctl.Replay(g.Context(), c.QueueURL, f, printOutcome)
	return finish(sum, err)
}

func printOutcome(o sfnctl.Outcome) { _ = json.NewEncoder(os.Stdout).Encode(o.Line()) }

func finish(sum sfnctl.Summary, err error) error {
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"summary": sum})
	if err == nil && sum.Failed > 0 {
		err = fmt.Errorf("%d of %d selected could not be acted on", sum.Failed, sum.Selected)
	}
	return err
}
