package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/embed/fair"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
	"go.uber.org/zap"
)

// Config configures the handler.
type Config struct {
	// Limits bound each document.
	Limits pipeline.Limits
}

// Deps are the handler's collaborators.
type Deps struct {
	DB *tenantdb.DB
	// Gate establishes every event's tenant (its bucket allowlist applies).
	Gate      *binding.Resolver
	Objects   *objects.Reader
	Store     *pgstore.Store
	Processor *pipeline.Processor
	Metrics   *Metrics
	Logger    *zap.Logger
	// Breaker, if set, is consulted after the gate verified a message's
	// tenant: a tenant whose breaker is open has its messages parked, and
	// every verified outcome is recorded.
	Breaker *breaker.Breaker
	// Dispatch, if set, gives each verified message its tenant's fair share
	// of the worker's slots under the tenant's stored limits.
	Dispatch *tenantlimits.Dispatcher
	// Intake, if set, holds a message before the gate while the tenant its
	// object key names (a hint, verified only afterwards) already has
	// messages being verified or waiting here; the runner asks it through
	// Admitter before the message's handler starts.
	Intake *tenantlimits.Intake
}

// Handler implements worker.Handler.
type Handler struct {
	cfg Config
	Deps
}

var _ worker.Handler = (*Handler)(nil)

// New returns a Handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.DB == nil || deps.Gate == nil || deps.Objects == nil || deps.Store == nil || deps.Processor == nil {
		return nil, errors.New("ingest: DB, Gate, Objects, Store and Processor are required")
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
	evs, err := event.Decode(m.Body, m.Attributes)
	if err != nil {
		reason := reasonOfDecode(err)
		if reason == event.ReasonMalformedEnvelope {
			// An envelope was there but is not even a compact JWS: refused
			// like any other envelope, with its security event.
			return h.reject(ctx, m, "sqs", reason, "", err)
		}
		return worker.WithStage(worker.Permanent(err, reason), "decode")
	}
	// A message of one object event was held, unverified, before the
	// runner started it, while its key's tenant had enough of its messages
	// ahead of it here (Admitter); its place is given back once it runs.
	tk := worker.Admitted(ctx)
	// Each record of an S3 notification of several passes its own tenant's
	// breaker as a message of its own (a direct notification of that one
	// record, id "<message id>#<index>"): a record of an open breaker's
	// tenant is parked alone while the others run.
	msgs := make([]*worker.Message, len(evs))
	for i := range msgs {
		msgs[i] = m
	}
	if len(evs) > 1 && h.Breaker != nil {
		if parts, err := event.SplitRecords(m.Body); err == nil && len(parts) == len(evs) {
			for i, p := range parts {
				sub := *m
				sub.ID, sub.Body = m.ID+"#"+strconv.Itoa(i), p
				msgs[i] = &sub
			}
		}
	}
	var permanent, transient error
	for i, ev := range evs {
		err := h.handleEvent(ctx, msgs[i], ev, msgs[i] != m || len(evs) == 1, tk)
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

// handleEvent establishes ev's tenant with the binding rules (shared with
// the DLQ replay tool) and, only under the verified scope, does what ev asks.
// A message of one event, or one record of a notification of several (split
// by Handle), passes the tenant's breaker.
func (h *Handler) handleEvent(ctx context.Context, m *worker.Message, ev event.Event, guarded bool, tk worker.Admission) error {
	if ev.Kind == event.KindIgnore {
		return nil
	}
	b, err := h.Gate.Resolve(ctx, ev, m.ID)
	if err != nil {
		return h.unbound(ctx, m, ev, err)
	}
	v := b.Verified
	ctx = h.verified(ctx, v)
	var (
		d   breaker.Decision
		run = runState{}
	)
	guarded = guarded && h.Breaker != nil
	if guarded {
		// Parked (the tenant's breaker is open) or deferred (this worker
		// already holds a backlog of the tenant) in one transaction, which
		// also reads the stored document for the precheck of an object
		// event when the message is not kept.
		backlogged := h.Dispatch != nil && h.Dispatch.Backlogged(v.Scope)
		var with func(ctx context.Context, tx tenantdb.Tx) error
		if doc, ok := precheckable(ev, b); ok && !backlogged {
			claim := new(pipeline.Claim)
			with = func(ctx context.Context, tx tenantdb.Tx) error {
				var err error
				*claim, err = pgstore.PrecheckIn(ctx, tx, doc)
				return err
			}
			run.claim = claim
		}
		if d, err = h.Breaker.GuardWith(ctx, v.Scope, m, backlogged, with); err != nil {
			return worker.WithStage(err, "breaker") // not decided or not kept: retry, never delete
		}
		if d.Kept != "" {
			if p, ok := tk.(interface{ Parked() }); ok && d.Kept != breaker.ReasonDeferred {
				// Its tenant's breaker is open: the tenant's next
				// messages are parked too, in the background (paced
				// by the intake, see tenantlimits.Ticket.Parked).
				p.Parked()
			}
			return nil // kept durably: the message may be deleted
		}
		if !d.Trial {
			// A success is counted in the transaction that makes the
			// document ready (not for a trial: its outcome decides a
			// transition, which Record makes).
			run.ready = &pgstore.ReadyHook{Run: h.Breaker.CountSuccess}
		}
	}
	if h.Dispatch != nil {
		var release func()
		if ctx, release, err = h.Dispatch.Acquire(ctx, v.Scope); err != nil {
			return worker.WithStage(err, "dispatch") // cancelled while waiting: retry
		}
		defer release()
	}
	tk.Done() // running: the next held message of the key's tenant may be verified
	err = h.do(ctx, ev, b, run)
	if guarded && (err != nil || !run.ready.Applied()) {
		h.record(ctx, v.Scope, m, d, err)
	}
	return err
}

// runState is what the handler decided about a message before its work,
// for the work: the stored document's judgement of an object event, read
// in the breaker decision's transaction (nil: not read), and the hook that
// counts a success with the tenant's breaker in the document's flip (nil:
// none).
type runState struct {
	claim *pipeline.Claim
	ready *pgstore.ReadyHook
}

// precheckable returns the document an ObjectCreated event stands for when
// ingestObject would precheck it (an object event with a sequencer, not a
// sidecar or tag change).
func precheckable(ev event.Event, b binding.Bound) (pipeline.Document, bool) {
	if ev.Kind != event.KindObjectCreated || b.AttributesOnly || ev.Object == nil {
		return pipeline.Document{}, false
	}
	doc := docFor(ev.Object.Bucket, ev.Object.Key, b.Head, ev.Object.Sequencer)
	return doc, doc.DocumentID != "" && doc.Sequencer != ""
}

// Admitter returns the runner's Admitter for h's Intake (nil without one):
// a message of one object event whose key's tenant already has enough of
// its messages past the intake is held, unverified and without a goroutine,
// until that tenant has room (see tenantlimits.Intake).
func (h *Handler) Admitter() worker.Admitter {
	if h.Intake == nil {
		return nil
	}
	return intakeAdmitter{h.Intake}
}

type intakeAdmitter struct{ in *tenantlimits.Intake }

// Admit decodes m only for its hint: nothing of it is kept but m itself
// (the handler decodes it again when it starts).
func (a intakeAdmitter) Admit(m *worker.Message, start func(worker.Admission)) (worker.Admission, bool) {
	evs, err := event.Decode(m.Body, m.Attributes)
	if err != nil {
		return nil, true // the handler refuses it
	}
	tk, now := a.in.Enter(hint(evs), func(tk *tenantlimits.Ticket) {
		if tk == nil {
			start(nil) // not a typed nil: given back
			return
		}
		start(tk)
	})
	if !now {
		return nil, false
	}
	return tk, true
}

func (a intakeAdmitter) Close() { a.in.Close() }

// hint is the tenant the object key of a message's only event names, before
// anything is verified ("" for jobs, several events, non-canonical keys). It
// orders the intake only.
func hint(evs []event.Event) string {
	if len(evs) != 1 || evs[0].Object == nil || evs[0].Kind == event.KindIgnore {
		return ""
	}
	k, err := envelope.ParseObjectKey(evs[0].Object.Key)
	if err != nil {
		return ""
	}
	return k.Tenant.String()
}

// record tells the tenant's breaker how its message ended.
func (h *Handler) record(ctx context.Context, scope tenantdb.Scope, m *worker.Message, d breaker.Decision, err error) {
	o := breaker.Outcome{JobID: m.ID, Trial: d.Trial, Failed: worker.IsPermanent(err), Transient: err != nil && !worker.IsPermanent(err)}
	if err != nil {
		o.Reason = worker.ReasonOf(err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, rerr := h.Breaker.Record(rctx, scope, o); rerr != nil {
		worker.Logger(ctx).Warn("breaker outcome not recorded", zap.Error(rerr))
	}
}

// do does what a verified event asks.
func (h *Handler) do(ctx context.Context, ev event.Event, b binding.Bound, run runState) error {
	v := b.Verified
	if b.AttributesOnly {
		// A <file>.metadata.json sidecar is never ingested or deleted as a
		// document, and new tags are not a new version: both change the
		// attributes of the document whose object the gate bound.
		return h.attributesChanged(ctx, v, ev.Object.Bucket, b, run.ready)
	}
	switch ev.Kind {
	case event.KindObjectCreated:
		o := ev.Object
		return h.ingestObject(ctx, v, o.Bucket, o.Key, b.Head, o.Sequencer, run)
	case event.KindObjectRemoved:
		return h.objectRemoved(ctx, v, ev.Object, run.ready)
	case event.KindJob:
		return h.job(ctx, v, ev.Job, run.ready)
	}
	return nil
}

// unbound maps a failure to establish ev's tenant to the worker's outcome.
func (h *Handler) unbound(ctx context.Context, m *worker.Message, ev event.Event, err error) error {
	var be *binding.Error
	if !errors.As(err, &be) {
		return err // a misconfigured Resolver: retry
	}
	switch be.Kind {
	case binding.KindIgnored:
		return nil
	case binding.KindNotServed:
		return worker.Permanent(errors.New("ingest: bucket not configured"), be.Reason())
	case binding.KindStale:
		if ev.Kind == event.KindObjectRemoved {
			worker.Logger(ctx).Info("removal event for an object that exists again; ignored")
		} else {
			worker.Logger(ctx).Info("object gone before processing; its removal event cleans up")
		}
		return nil
	case binding.KindUnavailable:
		if be.Reason() == binding.ReasonObjectUnavailable {
			return classify(be.Err) // S3 could not be asked
		}
		return h.reject(ctx, m, source(ev), "", resource(ev), be.Err) // not a verdict: retry
	}
	return h.reject(ctx, m, source(ev), be.Reason(), resource(ev), be.Err)
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

// docFor is the document an object stands for. The binding already refused
// non-canonical keys; a key that does not parse gives an empty document id,
// which ingest refuses.
func docFor(bucket, key string, head objects.Head, sequencer string) pipeline.Document {
	k, _ := envelope.ParseObjectKey(key)
	return pipeline.Document{
		DocumentID: k.Document, SourceURI: objects.URI(bucket, key),
		MediaType: head.ContentType, Filename: k.Filename, SizeBytes: head.Size, Sequencer: sequencer,
	}
}

// ingestObject ingests the object an event or an ingest job names, with
// its search attributes. An S3 event already applied (a redelivery) or
// superseded is recognised from the stored document first, before its
// attributes (tags, sidecar) are read from S3.
func (h *Handler) ingestObject(ctx context.Context, v envelope.Verified, bucket, key string, head objects.Head, sequencer string, run runState) error {
	doc := docFor(bucket, key, head, sequencer)
	if doc.DocumentID != "" && doc.Sequencer != "" {
		var claim pipeline.Claim
		if run.claim != nil {
			claim = *run.claim // read with the breaker's decision
		} else {
			var err error
			if claim, err = h.Store.For(v.Scope).Precheck(ctx, doc); err != nil {
				return classify(err)
			}
		}
		if claim != pipeline.ClaimProceed {
			h.counted(ctx, doc, pipeline.Result{Claim: claim})
			return nil
		}
		doc.Prechecked = true // the processor need not ask again
	}
	var err error
	if doc.Attributes, err = h.attributes(ctx, bucket, key, head); err != nil {
		return err
	}
	return h.ingest(ctx, v.Scope, doc, run.ready)
}

// attributes reads a document's search attributes (retrieval.ReadAttributes:
// its S3 tags and user metadata under retrieval.AttributePrefix, and its
// optional <key>.metadata.json sidecar). Invalid attributes fail the
// document permanently.
func (h *Handler) attributes(ctx context.Context, bucket, key string, head objects.Head) (map[string]any, error) {
	attrs, err := retrieval.ReadAttributes(ctx, h.Objects, bucket, key, head.VersionID, head.Metadata)
	if errors.Is(err, retrieval.ErrInvalidAttributes) {
		return nil, worker.WithStage(worker.Permanent(err, retrieval.ReasonBadMetadata), "fetch")
	}
	if err != nil {
		return nil, classify(err)
	}
	return attrs, nil
}

// attributesChanged applies a created or removed <file>.metadata.json, or
// changed tags of <file>, to the document <file>, whose object the gate
// bound (b.Head, b.Key: its canonical key, its envelope, its tenant; never
// the sidecar's). The document's attributes are read again from S3 as they
// are now, so redelivered and out-of-order events converge on the current
// sidecar and tags. A ready document gets its new attributes (with an audit
// row, without being embedded again); one being ingested is retried after
// it; one not stored (its own event failed on a bad sidecar, or is still
// queued) or failed is ingested, as its own event would, its success
// counted by ready (nil: none) in the transaction that makes it ready.
func (h *Handler) attributesChanged(ctx context.Context, v envelope.Verified, bucket string, b binding.Bound, ready *pgstore.ReadyHook) error {
	docKey := b.Key.String()
	doc := docFor(bucket, docKey, b.Head, "")
	store := h.Store.For(v.Scope)
	stored, status, err := store.Document(ctx, doc.DocumentID)
	switch {
	case err == nil && stored.SourceURI != doc.SourceURI:
		worker.Logger(ctx).Debug("sidecar of another file of a stored document; ignored")
		return nil
	case errors.Is(err, pgstore.ErrNotFound), err == nil && status == "failed":
		// Not stored (its own event failed, e.g. on this sidecar, or is
		// still queued) or failed: ingest it, as its own event would.
		return h.ingestObject(ctx, v, bucket, docKey, b.Head, "", runState{ready: ready})
	case err != nil:
		return classify(err)
	case status != "ready":
		return worker.RetryAfter(sidecarRetry, errors.New("ingest: document is being ingested; its new sidecar is applied after"))
	}
	attrs, err := h.attributes(ctx, bucket, docKey, b.Head)
	if err != nil {
		return err
	}
	out, err := store.SetAttributes(ctx, doc.DocumentID, doc.SourceURI, attrs)
	if err != nil {
		return classify(err)
	}
	switch out {
	case pgstore.AttributesBusy:
		return worker.RetryAfter(sidecarRetry, errors.New("ingest: document is being ingested; its new sidecar is applied after"))
	case pgstore.AttributesSet:
		h.Metrics.Documents.WithLabelValues("attributes_updated").Inc()
	}
	return nil
}

// sidecarRetry is how long a sidecar change waits for its document's ingest.
const sidecarRetry = 5 * time.Second

// counted records a handled document in the metrics.
func (h *Handler) counted(ctx context.Context, doc pipeline.Document, res pipeline.Result) {
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
}

func (h *Handler) ingest(ctx context.Context, scope tenantdb.Scope, doc pipeline.Document, ready *pgstore.ReadyHook) error {
	if doc.DocumentID == "" {
		return worker.Permanent(fmt.Errorf("ingest: object key must be {tenant}/{document}/{filename}"), string(envelope.ReasonNonCanonicalKey))
	}
	res, err := h.Processor.Ingest(ctx, h.Store.For(scope).OnReady(ready), doc)
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
	h.counted(ctx, doc, res)
	return nil
}

// objectRemoved deletes the document stored from the removed object. v was
// minted by envelope.VerifyRemoval after S3 confirmed the object is gone.
// ready (nil: none) counts the success with the tenant's breaker in the
// delete's transaction.
func (h *Handler) objectRemoved(ctx context.Context, v envelope.Verified, o *event.Object, ready *pgstore.ReadyHook) error {
	doc := docFor(o.Bucket, o.Key, objects.Head{}, o.Sequencer)
	// Only the document whose stored source is exactly this object is removed.
	stored, _, err := h.Store.For(v.Scope).Document(ctx, doc.DocumentID)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && stored.SourceURI != doc.SourceURI) {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	return h.deleted(ctx, h.Store.For(v.Scope).OnReady(ready).Delete(ctx, doc))
}

// deleted reports the outcome of a delete or purge: a job spent before (a
// redelivery, or a replay of a captured message) is acknowledged as done.
func (h *Handler) deleted(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, pgstore.ErrAlreadyDone):
		h.Metrics.Documents.WithLabelValues("duplicate").Inc()
		worker.Logger(ctx).Info("delete or purge already done by this job; not applied again")
		return nil
	case err != nil:
		return classify(err)
	}
	h.Metrics.Documents.WithLabelValues("deleted").Inc()
	return nil
}

// job runs a job whose envelope binding.Resolver verified. ready (nil:
// none) counts the job's success with the tenant's breaker in the
// transaction that ends its work (makes the document ready, deletes it or
// purges the tenant), as for an S3 event.
func (h *Handler) job(ctx context.Context, v envelope.Verified, j *event.Job, ready *pgstore.ReadyHook) error {
	switch envelope.Action(j.Action()) {
	case envelope.ActionIngest:
		head, err := h.Objects.Head(ctx, j.Bucket, j.Key)
		if errors.Is(err, objects.ErrNotFound) {
			return worker.WithStage(worker.Permanent(err, "object_not_found"), "fetch")
		}
		if err != nil {
			return classify(err)
		}
		return h.ingestObject(ctx, v, j.Bucket, j.Key, head, "", runState{ready: ready})
	case envelope.ActionReindex:
		stored, _, err := h.Store.For(v.Scope).Document(ctx, j.DocumentID)
		if errors.Is(err, pgstore.ErrNotFound) {
			return worker.Permanent(err, "document_not_found")
		}
		if err != nil {
			return classify(err)
		}
		// Reprocess exactly the bytes an envelope authorised: an object
		// written over since (by a server that resolved another key onto
		// this one, say) is refused, not ingested as this tenant's text.
		stored.Force, stored.Sequencer, stored.PinVersion = true, "", stored.Version
		return h.ingest(ctx, v.Scope, stored, ready)
	case envelope.ActionDelete:
		return h.deleted(ctx, h.Store.For(v.Scope).OnReady(ready).Delete(ctx, pipeline.Document{
			DocumentID: j.DocumentID, SourceURI: envelope.DocumentResource(j.DocumentID)}))
	case envelope.ActionPurge:
		n, err := h.Store.For(v.Scope).OnReady(ready).PurgeTenant(ctx)
		if err != nil {
			return h.deleted(ctx, err) // a spent purge is done; others as usual
		}
		worker.Logger(ctx).Info("tenant purged", zap.Int64("documents", n))
		return nil
	}
	return worker.Permanent(fmt.Errorf("ingest: unsupported job action %q", j.Action()), "unsupported_job")
}

// classify maps pipeline, S3 and database errors to worker outcomes with
// outcome.Classify, the classifier the Step Functions tasks use too.
func classify(err error) error {
	if err == nil || worker.IsPermanent(err) {
		return err
	}
	v := outcome.Classify(err)
	switch v.Class {
	case outcome.Permanent, outcome.Rejected:
		return worker.WithStage(worker.Permanent(err, v.Reason), v.Stage)
	case outcome.Throttled:
		return worker.WithStage(worker.RetryAfter(v.RetryAfter, err), v.Stage)
	}
	return worker.WithStage(err, v.Stage) // transient: backoff
}
