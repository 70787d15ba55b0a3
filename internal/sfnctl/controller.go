package sfnctl

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/telemetry"
	"github.com/tenantry/tenantry/statemachine"
)

// API is the part of *sfn.Client the controller uses.
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	RedriveExecution(ctx context.Context, in *sfn.RedriveExecutionInput, opts ...func(*sfn.Options)) (*sfn.RedriveExecutionOutput, error)
}

// QueueAPI is the part of *sqs.Client Replay uses.
type QueueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var (
	_ API      = (*sfn.Client)(nil)
	_ QueueAPI = (*sqs.Client)(nil)
)

// Config configures a Controller.
type Config struct {
	// StateMachineARN is the pipeline state machine (required).
	StateMachineARN string
	// RatePerSecond bounds Step Functions calls of Redrive and Replay
	// (default 5; Step Functions throttles its control plane).
	RatePerSecond float64
	// OmitEnvelope leaves the envelope out of the execution input (the
	// first task then reads it from the object). By default Start puts it
	// in, so the execution carries the signature it runs under.
	OmitEnvelope bool
	// ReplayVisibility hides the failure records Replay scanned until it
	// is done with them (default 5 minutes).
	ReplayVisibility time.Duration
	// MaxScan bounds the failure records one Replay looks at (default 10000).
	MaxScan int
}

func (c Config) withDefaults() Config {
	if c.RatePerSecond == 0 {
		c.RatePerSecond = 5
	}
	if c.ReplayVisibility == 0 {
		c.ReplayVisibility = 5 * time.Minute
	}
	if c.MaxScan == 0 {
		c.MaxScan = 10000
	}
	return c
}

// ErrInvalidConfig is wrapped by New's validation errors.
var ErrInvalidConfig = errors.New("sfnctl: invalid config")

func (c Config) validate() error {
	switch {
	case !strings.HasPrefix(c.StateMachineARN, "arn:") || !strings.Contains(c.StateMachineARN, ":stateMachine:"):
		return fmt.Errorf("%w: StateMachineARN %q is not a state machine ARN", ErrInvalidConfig, c.StateMachineARN)
	case c.RatePerSecond < 0:
		return fmt.Errorf("%w: RatePerSecond must be positive", ErrInvalidConfig)
	case c.ReplayVisibility < 30*time.Second || c.ReplayVisibility > 12*time.Hour:
		return fmt.Errorf("%w: ReplayVisibility must be 30s..12h", ErrInvalidConfig)
	case c.MaxScan < 1:
		return fmt.Errorf("%w: MaxScan must be positive", ErrInvalidConfig)
	}
	return nil
}

// Deps are the controller's collaborators. SFN is always required; Gate
// for Start and Replay; SQS for Replay.
type Deps struct {
	SFN API
	// Gate establishes the tenant of the object an execution is for, by
	// the rules of every transport (internal/binding).
	Gate   *binding.Resolver
	SQS    QueueAPI
	Logger *zap.Logger
}

// Controller starts, redrives and replays executions.
type Controller struct {
	cfg     Config
	deps    Deps
	limiter *rate.Limiter
	log     *zap.Logger
}

// New checks cfg and returns a Controller.
func New(cfg Config, deps Deps) (*Controller, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.SFN == nil {
		return nil, fmt.Errorf("%w: SFN is required", ErrInvalidConfig)
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	return &Controller{cfg: cfg, deps: deps, limiter: rate.NewLimiter(rate.Limit(cfg.RatePerSecond), 1), log: deps.Logger}, nil
}

// ExecutionName derives an execution name from the verified tenant, the
// document and the object version: "{tenant}-{40 base32 chars}", 77
// characters (Step Functions allows 80, in [A-Za-z0-9_-] here). The same
// upload always gets the same name, so Step Functions refuses a duplicate
// Standard execution; the tenant prefix lets operators filter without
// reading inputs.
func ExecutionName(tenant uuid.UUID, documentID, version string) string {
	sum := sha256.Sum256([]byte(tenant.String() + "\x00" + documentID + "\x00" + version))
	enc := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
	return tenant.String() + "-" + enc[:40]
}

// TenantOfExecution returns the tenant prefix of a name made by
// ExecutionName (ok false for other names, e.g. EventBridge's).
func TenantOfExecution(name string) (uuid.UUID, bool) {
	if len(name) != 77 || name[36] != '-' {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(name[:36])
	return id, err == nil && id.String() == name[:36]
}

// executionARN is the ARN of the execution name of the state machine.
func (c *Controller) executionARN(name string) string {
	return strings.Replace(c.cfg.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// resolved is an object whose tenant the gate established.
type resolved struct {
	tenant    uuid.UUID
	document  string
	version   string // the S3 version id, else "etag:<etag>"
	versionID string // the S3 version id ("" unversioned)
	envelope  string
}

// ErrNoEnvelope: the object carries no envelope.
var ErrNoEnvelope = errors.New("sfnctl: the object has no tenantry envelope")

// resolve establishes the object's tenant through the gate: the envelope
// is the object's; token, if set (a recorded execution input), must be
// byte-identical to it. The tenant of an execution always comes from the
// object's signature.
func (c *Controller) resolve(ctx context.Context, bucket, key, versionID, token string) (resolved, error) {
	if c.deps.Gate == nil {
		return resolved{}, fmt.Errorf("%w: Gate is required to resolve objects", ErrInvalidConfig)
	}
	b, err := c.deps.Gate.Object(ctx, binding.ObjectRequest{Bucket: bucket, Key: key, VersionID: versionID, Envelope: token})
	var be *binding.Error
	if errors.As(err, &be) && be.Reason() == binding.ReasonMissingEnvelope {
		return resolved{}, fmt.Errorf("%w: %w", ErrNoEnvelope, err)
	}
	if err != nil {
		return resolved{}, fmt.Errorf("sfnctl: %s: %w", objects.URI(bucket, key), err)
	}
	version := b.Head.VersionID
	if version == "" {
		version = "etag:" + b.Head.ETag
	}
	return resolved{tenant: b.Verified.Scope.TenantID(), document: b.Key.Document, version: version, versionID: b.Head.VersionID,
		envelope: b.Head.Envelope}, nil
}

// StartRequest names the object to process.
type StartRequest struct {
	Bucket, Key string
	// VersionID pins an object version (default: the current one).
	VersionID string
	// Rerun, if set, is mixed into the name: a deliberate second
	// execution for an upload whose first one failed for good (e.g. after
	// deploying support for its format). The same Rerun is refused again.
	Rerun string
}

// Started is the result of Start.
type Started struct {
	ExecutionARN string
	Name         string
	Tenant       uuid.UUID
	// Duplicate: Step Functions refused the name, an execution for this
	// upload exists already (ExecutionARN is it).
	Duplicate bool
}

// Start starts the pipeline for one object: HEAD it, verify its envelope,
// derive the name from tenant, document and version, StartExecution.
func (c *Controller) Start(ctx context.Context, req StartRequest) (Started, error) {
	r, err := c.resolve(ctx, req.Bucket, req.Key, req.VersionID, "")
	if err != nil {
		return Started{}, err
	}
	version := r.version
	if req.Rerun != "" {
		version += "#rerun:" + req.Rerun
	}
	in := statemachine.Input{Bucket: req.Bucket, Key: req.Key, VersionID: r.versionID}
	// The execution continues the caller's trace (its tasks' spans join it).
	tc := map[string]string{}
	if telemetry.Inject(ctx, tc); len(tc) > 0 {
		in.Trace = tc
	}
	if !c.cfg.OmitEnvelope {
		in.Envelope = r.envelope
	}
	return c.start(ctx, r.tenant, ExecutionName(r.tenant, r.document, version), in.JSON())
}

func (c *Controller) start(ctx context.Context, tenant uuid.UUID, name, input string) (Started, error) {
	out, err := c.deps.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(c.cfg.StateMachineARN), Name: aws.String(name), Input: aws.String(input),
	})
	var exists *types.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		return Started{ExecutionARN: c.executionARN(name), Name: name, Tenant: tenant, Duplicate: true}, nil
	case err != nil:
		return Started{}, fmt.Errorf("sfnctl: start execution: %w", err)
	}
	return Started{ExecutionARN: aws.ToString(out.ExecutionArn), Name: name, Tenant: tenant}, nil
}
