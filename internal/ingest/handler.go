package ingest

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/tenantry/tenantry/internal/embed/fair"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
	"go.uber.org/zap"
)

// Config configures the handler.
type Config struct {
	// Buckets, if set, are the only buckets whose events are accepted.
	Buckets []string
	// Limits bound each document.
	Limits pipeline.Limits
}

// Deps are the handler's collaborators.
type Deps struct {
	DB        *tenantdb.DB
	Verifier  *envelope.Verifier
	Objects   *objects.Reader
	Store     *pgstore.Store
	Processor *pipeline.Processor
	Metrics   *Metrics
	Logger    *zap.Logger
}

// Handler implements worker.Handler.
type Handler struct {
	cfg Config
	Deps
}

var _ worker.Handler = (*Handler)(nil)

// New returns a Handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.DB == nil || deps.Verifier == nil || deps.Objects == nil || deps.Store == nil || deps.Processor == nil {
		return nil, errors.New("ingest: DB, Verifier, Objects, Store and Processor are required")
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	deps.Processor.Limits = cfg.Limits
	return &Handler{cfg: cfg, Deps: deps}, nil
}

// Handle handles one message: every item it carries, each under its own
// verified scope. Items already done are no-ops (idempotent), so a message
// retried after a partial failure has one effect.
func (h *Handler) Handle(ctx context.Context, m *worker.Message) error {
	items, err := decode(m)
	if err != nil {
		reason := reasonOfDecode(err)
		if reason == event.ReasonMalformedEnvelope {
			// An envelope was there but is not even a compact JWS: refused
			// like any other envelope, with its security event.
			return h.reject(ctx, m, "sqs", reason, "", err)
		}
		return worker.WithStage(worker.Permanent(err, reason), "decode")
	}
	var permanent, transient error
	for _, it := range items {
		var err error
		switch it.kind {
		case kindIgnore:
			continue
		case kindObjectCreated:
			err = h.objectCreated(ctx, m, it)
		case kindObjectRemoved:
			err = h.objectRemoved(ctx, m, it)
		case kindJob:
			err = h.job(ctx, m, it)
		}
		switch {
		case err == nil:
		case worker.IsPermanent(err):
			permanent = errors.Join(permanent, err)
		default:
			transient = errors.Join(transient, err)
		}
	}
	if transient != nil {
		return transient // retried as a whole; done items are no-ops next time
	}
	return permanent
}

func (h *Handler) bucketAllowed(b string) bool {
	return len(h.cfg.Buckets) == 0 || slices.Contains(h.cfg.Buckets, b)
}

// reject records a refused envelope as a security event and returns the
// permanent outcome that sends the message to the DLQ with the reason code.
func (h *Handler) reject(ctx context.Context, m *worker.Message, source, reason, resource string, cause error) error {
	if reason == "" {
		// Not a verdict on the envelope (keys unreachable, cancelled): retry.
		return worker.WithStage(fmt.Errorf("ingest: cannot verify envelope now: %w", cause), "verify")
	}
	h.Metrics.Rejected.WithLabelValues(reason).Inc()
	if err := h.DB.RecordSecurityEvent(ctx, tenantdb.SecurityEvent{
		Reason: reason, Source: source, MessageID: m.ID, Resource: resource, Detail: "envelope rejected",
	}); err != nil {
		// Not recorded yet: retry the message rather than lose the event.
		return fmt.Errorf("ingest: record security event: %w", err)
	}
	return worker.WithStage(worker.Permanent(fmt.Errorf("envelope rejected: %w", cause), reason), "verify")
}

func (h *Handler) verified(ctx context.Context, v envelope.Verified) context.Context {
	ctx = fair.WithTenant(ctx, v.Scope.TenantID().String()) // fair share of embedding slots
	return worker.WithLogFields(ctx, zap.String("tenant_id", v.Scope.TenantID().String()), zap.String("job_id", v.Scope.JobID()))
}

func (h *Handler) objectCreated(ctx context.Context, m *worker.Message, it item) error {
	if !h.bucketAllowed(it.bucket) {
		return worker.Permanent(fmt.Errorf("ingest: bucket not configured"), "unknown_bucket")
	}
	head, err := h.Objects.Head(ctx, it.bucket, it.key)
	if errors.Is(err, objects.ErrNotFound) {
		worker.Logger(ctx).Info("object gone before processing; its removal event cleans up")
		return nil
	}
	if err != nil {
		return classify(err)
	}
	if head.Envelope == "" {
		return h.reject(ctx, m, "s3", "missing_envelope", objects.URI(it.bucket, it.key), errors.New("object has no tenantry envelope"))
	}
	v, err := h.Verifier.VerifyObject(ctx, head.Envelope, it.bucket, it.key)
	if err == nil {
		err = v.RequireAction(envelope.ActionIngest)
	}
	if err != nil {
		return h.reject(ctx, m, "s3", envelope.ReasonOf(err), objects.URI(it.bucket, it.key), err)
	}
	ctx = h.verified(ctx, v)
	return h.ingest(ctx, v.Scope, docFor(v, it.bucket, it.key, head, it.sequencer, false))
}

func docFor(v envelope.Verified, bucket, key string, head objects.Head, sequencer string, force bool) pipeline.Document {
	parts := strings.SplitN(key, "/", 3)
	docID := ""
	if len(parts) >= 2 {
		docID = parts[1]
	}
	return pipeline.Document{
		TenantID: v.Scope.TenantID().String(), DocumentID: docID, SourceURI: objects.URI(bucket, key),
		MediaType: head.ContentType, Filename: path.Base(key), SizeBytes: head.Size, Sequencer: sequencer, Force: force,
	}
}

func (h *Handler) ingest(ctx context.Context, scope tenantdb.Scope, doc pipeline.Document) error {
	if doc.DocumentID == "" || strings.Count(doc.SourceURI, "/") < 5 {
		return worker.Permanent(fmt.Errorf("ingest: object key must be {tenant}/{document}/{filename}"), "bad_key_layout")
	}
	res, err := h.Processor.Ingest(ctx, h.Store.For(scope), doc)
	t := res.Timings
	for stage, d := range map[string]float64{"fetch": t.Fetch.Seconds(), "claim": t.Claim.Seconds(), "extract": t.Extract.Seconds(),
		"chunk": t.Chunk.Seconds(), "embed": t.Embed.Seconds(), "store": t.Store.Seconds()} {
		if d > 0 {
			h.Metrics.Stage.WithLabelValues(stage).Observe(d)
		}
	}
	if err != nil {
		if pipeline.IsPermanent(err) {
			h.Metrics.Documents.WithLabelValues("failed").Inc()
		}
		return classify(err)
	}
	switch res.Claim {
	case pipeline.ClaimDone:
		h.Metrics.Documents.WithLabelValues("duplicate").Inc()
	case pipeline.ClaimStale:
		h.Metrics.Documents.WithLabelValues("stale").Inc()
	default:
		h.Metrics.Documents.WithLabelValues("ingested").Inc()
		h.Metrics.Chunks.Add(float64(res.Chunks))
	}
	worker.Logger(ctx).Debug("document handled", zap.String("document_id", doc.DocumentID),
		zap.Int("chunks", res.Chunks), zap.Int("claim", int(res.Claim)))
	return nil
}

func (h *Handler) objectRemoved(ctx context.Context, m *worker.Message, it item) error {
	if !h.bucketAllowed(it.bucket) {
		return worker.Permanent(fmt.Errorf("ingest: bucket not configured"), "unknown_bucket")
	}
	// S3 is the authority on removal: the object must really be gone.
	_, err := h.Objects.Head(ctx, it.bucket, it.key)
	if err == nil {
		worker.Logger(ctx).Info("removal event for an object that exists again; ignored")
		return nil
	}
	if !errors.Is(err, objects.ErrNotFound) {
		return classify(err)
	}
	v, err := envelope.VerifyRemoval(it.bucket, it.key, m.ID)
	if err != nil {
		return h.reject(ctx, m, "s3", envelope.ReasonOf(err), objects.URI(it.bucket, it.key), err)
	}
	ctx = h.verified(ctx, v)
	doc := docFor(v, it.bucket, it.key, objects.Head{}, it.sequencer, false)
	// Only the document whose stored source is exactly this object is removed.
	stored, _, err := h.Store.Document(ctx, v.Scope, doc.DocumentID)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && stored.SourceURI != doc.SourceURI) {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	if err := h.Store.For(v.Scope).Delete(ctx, doc); err != nil {
		return classify(err)
	}
	h.Metrics.Documents.WithLabelValues("deleted").Inc()
	return nil
}

func (h *Handler) job(ctx context.Context, m *worker.Message, it item) error {
	v, err := h.Verifier.VerifyJob(ctx, it.envelope, it.rawJob)
	if err == nil {
		err = v.RequireAction(it.action)
	}
	if err == nil {
		err = checkJobBinding(v, it)
	}
	if err != nil {
		return h.reject(ctx, m, "sqs", envelope.ReasonOf(err), it.resource(), err)
	}
	ctx = h.verified(ctx, v)
	switch it.action {
	case envelope.ActionIngest:
		head, err := h.Objects.Head(ctx, it.bucket, it.key)
		if errors.Is(err, objects.ErrNotFound) {
			return worker.WithStage(worker.Permanent(err, "object_not_found"), "fetch")
		}
		if err != nil {
			return classify(err)
		}
		return h.ingest(ctx, v.Scope, docFor(v, it.bucket, it.key, head, "", false))
	case envelope.ActionReindex:
		stored, _, err := h.Store.Document(ctx, v.Scope, it.documentID)
		if errors.Is(err, pgstore.ErrNotFound) {
			return worker.Permanent(err, "document_not_found")
		}
		if err != nil {
			return classify(err)
		}
		stored.Force, stored.Sequencer = true, ""
		return h.ingest(ctx, v.Scope, stored)
	case envelope.ActionDelete:
		err := h.Store.For(v.Scope).Delete(ctx, pipeline.Document{TenantID: v.Scope.TenantID().String(), DocumentID: it.documentID,
			SourceURI: envelope.DocumentResource(it.documentID)})
		if err != nil {
			return classify(err)
		}
		h.Metrics.Documents.WithLabelValues("deleted").Inc()
		return nil
	case envelope.ActionPurge:
		n, err := h.Store.PurgeTenant(ctx, v.Scope)
		if err != nil {
			return classify(err)
		}
		worker.Logger(ctx).Info("tenant purged", zap.Int64("documents", n))
		return nil
	}
	return worker.Permanent(fmt.Errorf("ingest: unsupported job action %q", it.action), "unsupported_job")
}

// errBinding is a job whose fields do not match what the envelope signed.
var errBinding = errors.New("job does not match the signed resource")

// checkJobBinding: the signed resource must be exactly the job's object or
// document; an object key must be under the tenant's prefix.
func checkJobBinding(v envelope.Verified, it item) error {
	tid := v.Scope.TenantID().String()
	switch it.action {
	case envelope.ActionIngest:
		if v.Claims.Resource != envelope.ObjectResource(it.bucket, it.key) || !strings.HasPrefix(it.key, tid+"/") {
			return &envelope.Error{Reason: envelope.ReasonBindingMismatch, Detail: errBinding.Error()}
		}
	case envelope.ActionReindex, envelope.ActionDelete:
		if it.documentID == "" || v.Claims.Resource != envelope.DocumentResource(it.documentID) {
			return &envelope.Error{Reason: envelope.ReasonBindingMismatch, Detail: errBinding.Error()}
		}
	}
	return nil
}

// classify maps pipeline/database errors to worker outcomes.
func classify(err error) error {
	var te *pipeline.TransientError
	switch {
	case err == nil:
		return nil
	case worker.IsPermanent(err):
		return err
	case pipeline.IsPermanent(err):
		return worker.WithStage(worker.Permanent(err, pipeline.Reason(err)), pipeline.StageOf(err))
	case errors.Is(err, objects.ErrNotFound):
		return worker.WithStage(worker.Permanent(err, "object_not_found"), "fetch")
	case tenantdb.IsRLSViolation(err):
		// A bug, not bad luck: never retry a cross-tenant write.
		return worker.WithStage(worker.Permanent(err, "rls_violation"), "store")
	case errors.As(err, &te) && te.RetryAfter > 0:
		return worker.WithStage(worker.RetryAfter(te.RetryAfter, err), pipeline.StageOf(err))
	}
	return worker.WithStage(err, pipeline.StageOf(err)) // transient: backoff
}
