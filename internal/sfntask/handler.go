package sfntask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/telemetry"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

// HeartbeatInterval is the worker.Config.HeartbeatInterval to run the task
// runner with: every HeartbeatSeconds of the definitions is at least three
// times it (statemachine tests check), so one lost heartbeat never times a
// task out.
const HeartbeatInterval = 30 * time.Second

// DefaultIntermediatePrefix is where intermediate objects live in the
// bucket; deploy/aws expires it with a lifecycle rule and keeps it out of
// the upload event rule.
const DefaultIntermediatePrefix = "intermediate/"

// Config configures a Handler.
type Config struct {
	// IntermediateBucket holds intermediate objects (default: the bucket
	// of the object being processed).
	IntermediateBucket string
	// IntermediatePrefix is the key prefix of intermediate objects
	// (default DefaultIntermediatePrefix; must end with "/").
	IntermediatePrefix string
	// Limits bound each document; EmbedBatch is the chunk batch size (one
	// Map iteration each).
	Limits pipeline.Limits
	// S3Concurrency bounds the intermediate reads and deletes one Store or
	// Finalize runs at once (default 8).
	S3Concurrency int
	// AnswerTimeout bounds each SendTask* call (default 10s).
	AnswerTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.IntermediatePrefix == "" {
		c.IntermediatePrefix = DefaultIntermediatePrefix
	}
	c.Limits = c.Limits.WithDefaults()
	if c.S3Concurrency == 0 {
		c.S3Concurrency = 8
	}
	if c.AnswerTimeout == 0 {
		c.AnswerTimeout = 10 * time.Second
	}
	return c
}

// ErrInvalidConfig is wrapped by New's validation errors.
var ErrInvalidConfig = errors.New("sfntask: invalid config")

func (c Config) validate() error {
	var errs []error
	if !strings.HasSuffix(c.IntermediatePrefix, "/") || strings.HasPrefix(c.IntermediatePrefix, "/") {
		errs = append(errs, fmt.Errorf("IntermediatePrefix %q must end with / and not start with one", c.IntermediatePrefix))
	}
	if c.S3Concurrency < 1 {
		errs = append(errs, fmt.Errorf("S3Concurrency must be positive, got %d", c.S3Concurrency))
	}
	if c.AnswerTimeout < 0 {
		errs = append(errs, errors.New("AnswerTimeout must not be negative"))
	}
	if c.Limits.MaxChunks/c.Limits.EmbedBatch > 10000 {
		errs = append(errs, errors.New("MaxChunks/EmbedBatch above 10000: the batch list would crowd the 256 KB state"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Deps are the handler's collaborators (all required but Logger).
type Deps struct {
	DB *tenantdb.DB // security events
	// Gate establishes every task's tenant (internal/binding): the same
	// rules, bucket allowlist and S3 reader as the SQS worker's.
	Gate      *binding.Resolver
	Store     *pgstore.Store
	S3        S3API
	SFN       SFNAPI
	Extractor pipeline.Extractor
	Chunker   pipeline.Chunker
	Embedder  pipeline.Embedder
	Logger    *zap.Logger
	// Breaker, if set, is asked after the gate verified a task's tenant,
	// as the SQS worker asks it for a message: a task of a tenant whose
	// breaker is open (or paused) is refused with ErrorBreakerOpen before
	// it does any work, and every admitted task's outcome is recorded.
	Breaker *breaker.Breaker
	// Tenants, if set, gives a task's context its verified tenant's
	// provider budget and usage tally (*tenantlimits.Cache) after the gate,
	// as the dispatcher does for an SQS message: the embed stage then waits
	// for the tenant's budget and its calls are counted for the tenant.
	Tenants TenantContext
}

// TenantContext puts a verified tenant's provider limits into a context
// (*tenantlimits.Cache).
type TenantContext interface {
	Scope(ctx context.Context, scope tenantdb.Scope) context.Context
}

// Handler runs Step Functions tasks. It implements worker.Handler; give
// OnHeartbeat to worker.Config.OnHeartbeat and run the runner with
// HeartbeatInterval.
type Handler struct {
	cfg       Config
	db        *tenantdb.DB
	gate      *binding.Resolver
	objects   *objects.Reader
	store     *pgstore.Store
	s3        S3API
	sfn       SFNAPI
	extractor pipeline.Extractor
	chunker   pipeline.Chunker
	embedder  pipeline.Embedder
	breaker   *breaker.Breaker
	tenants   TenantContext
	log       *zap.Logger

	mu      sync.Mutex
	running map[*worker.Message]*running
}

// running is one task being worked on.
type running struct {
	token  string
	cancel context.CancelCauseFunc
}

var _ worker.Handler = (*Handler)(nil)

// New checks cfg and deps and returns a Handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.DB == nil || deps.Gate == nil || deps.Store == nil || deps.S3 == nil || deps.SFN == nil ||
		deps.Extractor == nil || deps.Chunker == nil || deps.Embedder == nil {
		return nil, fmt.Errorf("%w: DB, Gate, Store, S3, SFN, Extractor, Chunker and Embedder are required", ErrInvalidConfig)
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	return &Handler{
		cfg: cfg, db: deps.DB, gate: deps.Gate, objects: objects.New(deps.S3), store: deps.Store, s3: deps.S3, sfn: deps.SFN,
		extractor: deps.Extractor, chunker: deps.Chunker, embedder: deps.Embedder, breaker: deps.Breaker, tenants: deps.Tenants, log: deps.Logger,
		running: map[*worker.Message]*running{},
	}, nil
}

// errTaskGone is the cause of a stage's cancellation when Step Functions
// no longer waits for the task (it timed out, or the execution ended).
var errTaskGone = errors.New("sfntask: Step Functions no longer waits for this task")

// Handle runs one task and answers it. The returned error is the worker
// outcome: nil once Step Functions has the answer (or no longer wants one);
// an error only when the answer could not be given, so SQS redelivers the
// task and the (idempotent) stage runs again.
func (h *Handler) Handle(ctx context.Context, m *worker.Message) error {
	task, err := DecodeTask(m.Body)
	if err != nil {
		token, ok := DecodeToken(m.Body)
		if !ok {
			// Nothing to answer: Step Functions times the task out.
			return worker.WithStage(worker.Permanent(err, ReasonMalformedTask), "decode")
		}
		f := Failure{Name: ErrorPermanent, Stage: "decode", Reason: ReasonMalformedTask}
		return h.answerFailure(ctx, token, f)
	}
	ctx = worker.WithLogFields(ctx, zap.String("stage", string(task.Stage)), zap.String("execution", task.Execution))
	// A task that waited in the queue longer than HeartbeatSeconds was
	// already timed out (and retried with a new message): one heartbeat on
	// receipt finds out before any work is done.
	if err := h.heartbeat(ctx, task.Token); taskGone(err) {
		worker.Logger(ctx).Info("task no longer open when received; dropped")
		return nil
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	h.track(m, &running{token: task.Token, cancel: cancel})
	defer h.untrack(m)

	out, j, err := h.run(sctx, task)
	if errors.Is(context.Cause(sctx), errTaskGone) {
		worker.Logger(ctx).Info("task abandoned by Step Functions; dropped")
		return nil
	}
	if err != nil && ctx.Err() != nil {
		// Shutdown: give the message back unanswered; it runs again.
		return ctx.Err()
	}
	if errors.Is(err, errNotRecorded) {
		return worker.WithStage(err, string(task.Stage))
	}
	if err != nil {
		return h.answerFailure(ctx, task.Token, h.failed(ctx, j, err))
	}
	return h.answerSuccess(ctx, task.Token, out)
}

// run runs one task's stage, then tells the tenant's breaker how it ended.
func (h *Handler) run(ctx context.Context, t *Task) (out any, j *job, err error) {
	ctx, span := startTaskSpan(ctx, t)
	defer func() { telemetry.End(span, err) }()
	j = &job{Task: t}
	out, err = h.stage(ctx, j)
	h.record(ctx, j, err)
	return out, j, err
}

func (h *Handler) stage(ctx context.Context, t *job) (any, error) {
	switch t.Stage {
	case StageVerify:
		return h.verify(ctx, t)
	case StageExtract:
		return h.extract(ctx, t)
	case StageChunk:
		return h.chunk(ctx, t)
	case StageEmbed:
		return h.embed(ctx, t)
	case StageStore:
		return h.storeStage(ctx, t)
	case StageFinalize:
		return h.finalize(ctx, t)
	case StageMarkFailed:
		return h.markFailed(ctx, t)
	}
	return nil, permanent(ReasonMalformedTask, errors.New("unknown stage"))
}

func (h *Handler) track(m *worker.Message, r *running) {
	h.mu.Lock()
	h.running[m] = r
	h.mu.Unlock()
}

func (h *Handler) untrack(m *worker.Message) {
	h.mu.Lock()
	delete(h.running, m)
	h.mu.Unlock()
}

// Invoke runs one task synchronously and returns its output or its
// classified failure: the Express variant, where Step Functions invokes the
// worker (a Lambda handler of the same binary) and cannot wait for a task
// token. The caller reports a failure with Failure.Name as the error type,
// so the definition's Retry and Catch match it. A failure the worker could
// not record (a security event) is transient here: the invocation is
// retried.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (json.RawMessage, *Failure) {
	task, err := DecodeInvocation(payload)
	if err != nil {
		return nil, &Failure{Name: ErrorPermanent, Stage: "decode", Reason: ReasonMalformedTask}
	}
	ctx = worker.WithLogFields(ctx, zap.String("stage", string(task.Stage)), zap.String("execution", task.Execution))
	out, j, err := h.run(ctx, task)
	switch {
	case errors.Is(err, errNotRecorded):
		return nil, &Failure{Name: ErrorTransient, Stage: task.Stage, Reason: ReasonNotRecorded}
	case err != nil:
		f := h.failed(ctx, j, err)
		return nil, &f
	}
	b, err := json.Marshal(out)
	if err != nil || len(b) > maxOutputBytes {
		return nil, &Failure{Name: ErrorPermanent, Stage: task.Stage, Reason: ReasonOutputTooLarge}
	}
	return b, nil
}

// failed classifies a task's failure and logs it (with the tenant, once the
// gate verified it). A task refused by its tenant's breaker is expected
// while the breaker is open: logged at info.
func (h *Handler) failed(ctx context.Context, j *job, err error) Failure {
	f := Classify(j.Stage, err)
	log := worker.Logger(ctx)
	if !j.scope.IsZero() {
		log = log.With(zap.String("tenant_id", j.scope.TenantID().String()))
	}
	level := zap.WarnLevel
	if f.Name == ErrorBreakerOpen {
		level = zap.InfoLevel
	}
	log.Log(level, "task failed", zap.String("error_name", f.Name), zap.String("reason", f.Reason), zap.Error(err))
	return f
}

// OnHeartbeat is the worker.Config.OnHeartbeat hook: after each visibility
// extension it tells Step Functions the task is alive (SendTaskHeartbeat),
// so HeartbeatSeconds does not time it out. When Step Functions answers that
// the task is gone, the running stage is cancelled.
func (h *Handler) OnHeartbeat(ctx context.Context, m *worker.Message, progress any) error {
	h.mu.Lock()
	r := h.running[m]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	err := h.heartbeat(ctx, r.token)
	if taskGone(err) {
		r.cancel(errTaskGone)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sfntask: heartbeat: %w", err)
	}
	if progress != nil {
		worker.Logger(ctx).Debug("task heartbeat", zap.Any("progress", progress))
	}
	return nil
}

func (h *Handler) heartbeat(ctx context.Context, token string) error {
	actx, cancel := context.WithTimeout(ctx, h.cfg.AnswerTimeout)
	defer cancel()
	_, err := h.sfn.SendTaskHeartbeat(actx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)})
	return err
}

// maxOutputBytes is Step Functions' limit on a task's output.
const maxOutputBytes = 256 << 10

func (h *Handler) answerSuccess(ctx context.Context, token string, out any) error {
	b, err := json.Marshal(out)
	if err != nil || len(b) > maxOutputBytes {
		return h.answerFailure(ctx, token, Failure{Name: ErrorPermanent, Reason: ReasonOutputTooLarge})
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.AnswerTimeout)
	defer cancel()
	_, err = h.sfn.SendTaskSuccess(actx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(b))})
	return h.answered(ctx, err)
}

func (h *Handler) answerFailure(ctx context.Context, token string, f Failure) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.AnswerTimeout)
	defer cancel()
	_, err := h.sfn.SendTaskFailure(actx, &sfn.SendTaskFailureInput{
		TaskToken: aws.String(token), Error: aws.String(f.Name), Cause: aws.String(f.CauseJSON()),
	})
	return h.answered(ctx, err)
}

// answered turns the result of a SendTask* call into the worker outcome.
func (h *Handler) answered(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case taskGone(err):
		// The state timed out (its retry sent a new task) or the
		// execution ended: nobody waits for this answer.
		worker.Logger(ctx).Info("answer refused: the task is no longer open", zap.Error(err))
		return nil
	}
	return worker.WithStage(fmt.Errorf("sfntask: answer Step Functions: %w", err), "answer")
}

// taskGone reports whether Step Functions refused a task call because the
// task is not open any more (timed out, closed, unknown token).
func taskGone(err error) bool {
	var (
		timedOut *types.TaskTimedOut
		notExist *types.TaskDoesNotExist
		invalid  *types.InvalidToken
	)
	return errors.As(err, &timedOut) || errors.As(err, &notExist) || errors.As(err, &invalid)
}
