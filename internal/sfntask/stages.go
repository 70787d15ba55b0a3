package sfntask

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/statemachine"
	"github.com/tenantry/tenantry/worker"
)

// Outputs of the stages (SendTaskSuccess). Only pointers and counts: the
// state stays far below 256 KB whatever the document.
type (
	// ExtractOutput is Extract's output ($.content).
	ExtractOutput struct {
		Skip     bool   `json:"skip"`
		Claim    string `json:"claim"` // proceed, done (already stored), stale (a newer event won)
		Version  string `json:"version"`
		Size     int64  `json:"size"`
		Sections int    `json:"sections"`
	}
	// ChunkOutput is Chunk's output ($.chunks); Batches feeds the Map.
	ChunkOutput struct {
		Version string `json:"version"`
		Chunks  int    `json:"chunks"`
		Batches []int  `json:"batches"`
	}
	// EmbedOutput is one Map iteration's output.
	EmbedOutput struct {
		Batch  int  `json:"batch"`
		Count  int  `json:"count"`
		Cached bool `json:"cached,omitempty"`
	}
	// StoreOutput is Store's output ($.stored).
	StoreOutput struct {
		Version   string `json:"version"`
		Chunks    int    `json:"chunks"`
		Model     string `json:"model"`
		Duplicate bool   `json:"duplicate,omitempty"`
	}
	// FinalizeOutput is the execution's output.
	FinalizeOutput struct {
		DocumentID string `json:"documentId"`
		Version    string `json:"version"`
		Status     string `json:"status"`
		Chunks     int    `json:"chunks"`
	}
	// MarkFailedOutput is MarkFailed's output ($.marked).
	MarkFailedOutput struct {
		Recorded bool   `json:"recorded"`
		Reason   string `json:"reason"`
	}
)

// verified is a task whose envelope verified: the only source of tenant,
// document and intermediate location.
type verified struct {
	v    binding.Verified
	ref  DocRef
	doc  pipeline.Document // Version unset
	meta map[string]string // the object's user metadata (attributes)
	area area
}

// reverify establishes again, through the gate, the tenant of the object a
// later task carries: the object (version) must still carry exactly the
// envelope Verify found on it. The tenant, the document and the
// intermediate area all come from the gate's verdict and the key.
func (h *Handler) reverify(ctx context.Context, t *job) (context.Context, *verified, error) {
	ref := *t.Doc
	b, err := h.gate.Object(ctx, binding.ObjectRequest{Bucket: ref.Bucket, Key: ref.Key, VersionID: ref.VersionID, Envelope: ref.Envelope})
	if err != nil {
		return ctx, nil, h.unbound(ctx, t, ref.Bucket, ref.Key, err)
	}
	return h.bind(ctx, t, b, ref)
}

// bind derives everything a task works on from the gate's verdict: the
// tenant, the document (the canonical key's), the intermediate area; and
// asks the tenant's breaker whether the task may run now (admit).
func (h *Handler) bind(ctx context.Context, t *job, b binding.Bound, ref DocRef) (context.Context, *verified, error) {
	v, docID := b.Verified, b.Key.Document
	if err := h.admit(ctx, t, v.Scope); err != nil {
		return ctx, nil, err
	}
	if h.tenants != nil {
		ctx = h.tenants.Scope(ctx, v.Scope)
	}
	ref.DocumentID = docID
	tid := v.Scope.TenantID().String()
	bucket := h.cfg.IntermediateBucket
	if bucket == "" {
		bucket = ref.Bucket
	}
	vr := &verified{
		v:   v,
		ref: ref,
		doc: pipeline.Document{
			DocumentID: docID, SourceURI: objects.URI(ref.Bucket, ref.Key),
			MediaType: ref.MediaType, Filename: b.Key.Filename, SizeBytes: ref.Size, Sequencer: ref.Sequencer,
		},
		meta: b.Head.Metadata,
		area: area{bucket: bucket, prefix: h.cfg.IntermediatePrefix + tid + "/" + docID + "/" + t.Execution + "/"},
	}
	ctx = worker.WithLogFields(ctx, zap.String("tenant_id", tid), zap.String("document_id", docID))
	return ctx, vr, nil
}

// unbound maps the gate's refusal to the task's failure. A rejected
// envelope (or a missing one) is recorded as a security event (nothing is
// written to tenant tables); a failure that is not a verdict (S3 or the keys
// unreachable) is returned as is: transient.
func (h *Handler) unbound(ctx context.Context, t *job, bucket, key string, err error) error {
	var be *binding.Error
	if !errors.As(err, &be) {
		return err // a misconfigured gate: retry
	}
	switch be.Kind {
	case binding.KindNotServed:
		return permanent(be.Reason(), errors.New("bucket not configured"))
	case binding.KindStale:
		return permanent(outcome.ReasonObjectNotFound, be.Err)
	case binding.KindUnavailable:
		if be.Reason() == binding.ReasonObjectUnavailable && be.Err != nil {
			return be.Err // the classified S3 error
		}
		return fmt.Errorf("sfntask: cannot verify the envelope now: %w", be)
	}
	claimed := ""
	if first, _, ok := strings.Cut(key, "/"); ok {
		if _, err := uuid.Parse(first); err == nil {
			claimed = first
		}
	}
	if err := h.db.RecordSecurityEvent(ctx, tenantdb.SecurityEvent{
		Reason: be.Reason(), Source: "sfn", MessageID: t.Execution, ClaimedTenant: claimed,
		Resource: objects.URI(bucket, key), Detail: "envelope rejected at stage " + string(t.Stage),
	}); err != nil {
		// Not recorded: do not answer; the task comes back and we try again.
		return fmt.Errorf("%w: %w", errNotRecorded, err)
	}
	return be // recorded; outcome.Classify reads it as rejected
}

// verify establishes the object's tenant through the gate: the envelope
// is the object's signed metadata; one in the execution input must be
// byte-identical to it. Its output is the DocRef every later task carries.
func (h *Handler) verify(ctx context.Context, t *job) (any, error) {
	in, err := statemachine.ParseInput(t.Input)
	if err != nil {
		reason := event.ReasonOf(err)
		if reason == "" {
			reason = ReasonBadInput
		}
		return nil, permanent(reason, err)
	}
	b, err := h.gate.Object(ctx, binding.ObjectRequest{Bucket: in.Bucket, Key: in.Key, VersionID: in.VersionID, Envelope: in.Envelope})
	if err != nil {
		return nil, h.unbound(ctx, t, in.Bucket, in.Key, err)
	}
	version := b.Head.VersionID
	if version == "" {
		version = in.VersionID
	}
	ref := DocRef{
		Envelope: b.Head.Envelope, Bucket: in.Bucket, Key: in.Key, VersionID: version, Sequencer: in.Sequencer,
		MediaType: b.Head.ContentType, Size: b.Head.Size, Trace: in.Trace,
	}
	_, vr, err := h.bind(ctx, t, b, ref)
	if err != nil {
		return nil, err
	}
	return vr.ref, nil
}

// extract: fetch the pinned object version, hash it (the document
// version), claim it in the store, extract its text to S3.
func (h *Handler) extract(ctx context.Context, t *job) (any, error) {
	ctx, vr, err := h.reverify(ctx, t)
	if err != nil {
		return nil, err
	}
	raw, err := h.fetch(ctx, vr.ref)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	doc := vr.doc
	doc.Version = "sha256:" + hex.EncodeToString(sum[:])
	doc.SizeBytes = int64(len(raw))
	if err := h.putJSON(ctx, vr.area, "source.json", sourceFile{Version: doc.Version, Size: doc.SizeBytes}); err != nil {
		return nil, err
	}
	// The document's search attributes, read as the SQS worker reads them
	// (retrieval.ReadAttributes) and stored with the claim.
	doc.Attributes, err = retrieval.ReadAttributes(ctx, h.objects, vr.ref.Bucket, vr.ref.Key, vr.ref.VersionID, vr.meta)
	if errors.Is(err, retrieval.ErrInvalidAttributes) {
		return nil, permanent(retrieval.ReasonBadMetadata, err)
	}
	if err != nil {
		return nil, err
	}
	claim, err := h.store.For(vr.v.Scope).Claim(ctx, doc)
	if err != nil {
		return nil, err
	}
	out := ExtractOutput{Version: doc.Version, Size: doc.SizeBytes, Claim: "proceed"}
	switch claim {
	case pipeline.ClaimDone:
		out.Skip, out.Claim = true, "done"
		return out, nil
	case pipeline.ClaimStale:
		out.Skip, out.Claim = true, "stale"
		return out, nil
	}
	text, err := h.extractor.Extract(ctx, doc.MediaType, bytes.NewReader(raw), doc.SizeBytes)
	if err != nil {
		return nil, err
	}
	if err := h.putJSON(ctx, vr.area, "extracted.json", extractedFile{Version: doc.Version, Sections: text.Sections}); err != nil {
		return nil, err
	}
	out.Sections = len(text.Sections)
	return out, nil
}

// fetch reads the object version Verify pinned, at most Limits.MaxBytes.
func (h *Handler) fetch(ctx context.Context, ref DocRef) ([]byte, error) {
	raw, err := h.objects.Read(ctx, ref.Bucket, ref.Key, ref.VersionID, h.cfg.Limits.MaxBytes)
	if errors.Is(err, objects.ErrNotFound) {
		return nil, permanent(outcome.ReasonObjectNotFound, err)
	}
	return raw, err
}

// chunk: split the extracted text and write the batches, then the manifest.
func (h *Handler) chunk(ctx context.Context, t *job) (any, error) {
	ctx, vr, err := h.reverify(ctx, t)
	if err != nil {
		return nil, err
	}
	var src sourceFile
	if err := h.getJSON(ctx, vr.area, "source.json", &src); err != nil {
		return nil, missing(err)
	}
	var ex extractedFile
	if err := h.getJSON(ctx, vr.area, "extracted.json", &ex); err != nil {
		return nil, missing(err)
	}
	if ex.Version != src.Version {
		return nil, permanent(ReasonIntermediateMissing, errors.New("extracted text of another version"))
	}
	// The cap bites at the first chunk past it (pipeline.BoundedChunker).
	chunks, err := pipeline.ChunkAtMost(ctx, h.chunker, pipeline.Extracted{Sections: ex.Sections}, h.cfg.Limits.MaxChunks)
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		return nil, pipeline.ErrEmpty
	}
	size := h.cfg.Limits.EmbedBatch
	n := (len(chunks) + size - 1) / size
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.cfg.S3Concurrency)
	for i := 0; i < n; i++ {
		batch := chunkBatch{Version: ex.Version, Batch: i, Chunks: chunks[i*size : min((i+1)*size, len(chunks))]}
		g.Go(func() error { return h.putJSON(gctx, vr.area, batchName("chunks", i), batch) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := manifestFile{Version: ex.Version, Size: src.Size, Chunks: len(chunks), Batches: n, BatchSize: size}
	if err := h.putJSON(ctx, vr.area, "manifest.json", m); err != nil {
		return nil, err
	}
	out := ChunkOutput{Version: ex.Version, Chunks: len(chunks), Batches: make([]int, n)}
	for i := range out.Batches {
		out.Batches[i] = i
	}
	return out, nil
}

// embed: embed one batch (a Map iteration). A batch already embedded by
// this execution with the same model is not embedded again.
func (h *Handler) embed(ctx context.Context, t *job) (any, error) {
	ctx, vr, err := h.reverify(ctx, t)
	if err != nil {
		return nil, err
	}
	i := *t.Batch
	var m manifestFile
	if err := h.getJSON(ctx, vr.area, "manifest.json", &m); err != nil {
		return nil, missing(err)
	}
	if i >= m.Batches {
		return nil, permanent(ReasonMalformedTask, errors.New("batch index out of range"))
	}
	var cb chunkBatch
	if err := h.getJSON(ctx, vr.area, batchName("chunks", i), &cb); err != nil {
		return nil, missing(err)
	}
	if cb.Version != m.Version || cb.Batch != i {
		return nil, permanent(ReasonIntermediateMissing, errors.New("chunk batch of another version"))
	}
	var prev embeddingBatch
	switch err := h.getJSON(ctx, vr.area, batchName("embeddings", i), &prev); {
	case err == nil:
		if prev.Version == m.Version && prev.Model == h.embedder.Model() && len(prev.Vectors) == len(cb.Chunks) {
			return EmbedOutput{Batch: i, Count: len(prev.Vectors), Cached: true}, nil
		}
	case !errors.Is(err, objects.ErrNotFound):
		return nil, err
	}
	worker.RecordHeartbeat(ctx, map[string]any{"stage": "embed", "batch": i, "texts": len(cb.Chunks)})
	vecs, err := pipeline.EmbedChunks(ctx, h.embedder, cb.Chunks)
	if err != nil {
		return nil, err
	}
	eb := embeddingBatch{Version: m.Version, Batch: i, Model: h.embedder.Model(), Vectors: make([]string, len(vecs))}
	for j, v := range vecs {
		if j == 0 {
			eb.Dims = len(v)
		}
		if len(v) != eb.Dims || len(v) == 0 {
			return nil, fmt.Errorf("embedder returned vectors of different dimensions")
		}
		eb.Vectors[j] = encodeVector(v)
	}
	if err := h.putJSON(ctx, vr.area, batchName("embeddings", i), eb); err != nil {
		return nil, err
	}
	return EmbedOutput{Batch: i, Count: len(vecs)}, nil
}

// storeStage: commit every chunk with its vector and the audit row in one
// tenant transaction (pgstore.Commit, idempotent per version). A version
// already stored is not committed again.
func (h *Handler) storeStage(ctx context.Context, t *job) (any, error) {
	ctx, vr, err := h.reverify(ctx, t)
	if err != nil {
		return nil, err
	}
	var m manifestFile
	if err := h.getJSON(ctx, vr.area, "manifest.json", &m); err != nil {
		return nil, missing(err)
	}
	stored, status, err := h.store.For(vr.v.Scope).Document(ctx, vr.doc.DocumentID)
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		return nil, err
	}
	model := h.embedder.Model()
	if err == nil && status == "ready" && stored.Version == m.Version {
		return StoreOutput{Version: m.Version, Chunks: m.Chunks, Model: model, Duplicate: true}, nil
	}
	chunkBatches := make([]chunkBatch, m.Batches)
	embBatches := make([]embeddingBatch, m.Batches)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.cfg.S3Concurrency)
	for i := 0; i < m.Batches; i++ {
		g.Go(func() error { return missing(h.getJSON(gctx, vr.area, batchName("chunks", i), &chunkBatches[i])) })
		g.Go(func() error { return missing(h.getJSON(gctx, vr.area, batchName("embeddings", i), &embBatches[i])) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	chunks := make([]pipeline.Chunk, 0, m.Chunks)
	embs := make([]pipeline.Embedding, 0, m.Chunks)
	for i := range chunkBatches {
		cb, eb := chunkBatches[i], embBatches[i]
		if cb.Version != m.Version || eb.Version != m.Version || cb.Batch != i || eb.Batch != i || len(cb.Chunks) != len(eb.Vectors) {
			return nil, permanent(ReasonIntermediateMissing, fmt.Errorf("batch %d is inconsistent", i))
		}
		if i == 0 {
			model = eb.Model
		}
		if eb.Model != model {
			return nil, permanent(ReasonIntermediateMissing, errors.New("batches embedded with different models"))
		}
		for j, c := range cb.Chunks {
			v, err := decodeVector(eb.Vectors[j], eb.Dims)
			if err != nil {
				return nil, permanent(ReasonIntermediateMissing, err)
			}
			chunks = append(chunks, c)
			embs = append(embs, pipeline.Embedding{Vector: v, Model: eb.Model})
		}
	}
	if len(chunks) != m.Chunks {
		return nil, permanent(ReasonIntermediateMissing, errors.New("chunk count does not match the manifest"))
	}
	doc := vr.doc
	doc.Version, doc.SizeBytes = m.Version, m.Size
	if err := h.store.For(vr.v.Scope).Commit(ctx, doc, chunks, embs); err != nil {
		return nil, err
	}
	return StoreOutput{Version: m.Version, Chunks: len(chunks), Model: model}, nil
}

// finalize: delete this execution's intermediate objects (the bucket's
// lifecycle rule is the backstop) and summarise.
func (h *Handler) finalize(ctx context.Context, t *job) (any, error) {
	ctx, vr, err := h.reverify(ctx, t)
	if err != nil {
		return nil, err
	}
	out := FinalizeOutput{DocumentID: vr.doc.DocumentID}
	var m manifestFile
	switch err := h.getJSON(ctx, vr.area, "manifest.json", &m); {
	case err == nil:
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(h.cfg.S3Concurrency)
		for i := 0; i < m.Batches; i++ {
			g.Go(func() error { return h.deleteObject(gctx, vr.area, batchName("chunks", i)) })
			g.Go(func() error { return h.deleteObject(gctx, vr.area, batchName("embeddings", i)) })
		}
		g.Go(func() error { return h.deleteObject(gctx, vr.area, "extracted.json") })
		g.Go(func() error { return h.deleteObject(gctx, vr.area, "source.json") })
		if err := g.Wait(); err != nil {
			return nil, err
		}
		// The manifest goes last: a retry still finds what is left.
		if err := h.deleteObject(ctx, vr.area, "manifest.json"); err != nil {
			return nil, err
		}
	case !errors.Is(err, objects.ErrNotFound):
		return nil, err
	}
	stored, status, err := h.store.For(vr.v.Scope).Document(ctx, vr.doc.DocumentID)
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		return nil, err
	}
	out.Status, out.Version, out.Chunks = status, stored.Version, m.Chunks
	if out.Version == "" {
		out.Version = m.Version
	}
	return out, nil
}

// markFailed records a caught failure: the document is marked failed with
// the failure's reason code and the audit row is written, in one tenant
// transaction (pgstore Fail). Without a verified envelope there is nothing
// it may write: a rejected envelope was already recorded as a security
// event by the task that refused it.
func (h *Handler) markFailed(ctx context.Context, t *job) (any, error) {
	f := t.Failure
	switch f.Error {
	case ErrorEnvelopeRejected:
		return MarkFailedOutput{Reason: "envelope_rejected"}, nil
	case ErrorBreakerOpen:
		// The document was held back, not judged (the Express variant
		// catches everything): nothing to mark; its recorded failure is
		// replayed once the tenant's breaker closes.
		return MarkFailedOutput{Reason: breaker.ReasonOpen}, nil
	}
	if t.Doc.Envelope == "" {
		return MarkFailedOutput{Reason: "not_verified"}, nil
	}
	ctx, vr, err := h.reverify(ctx, t)
	if v := outcome.Classify(err); err != nil && v.Class == outcome.Rejected {
		return MarkFailedOutput{Reason: v.Reason}, nil // recorded by unbound
	}
	if err != nil {
		return nil, err
	}
	reason := worker.SanitizeReason(f.Error)
	if c, ok := ParseCause(f.Cause); ok {
		reason = c.Reason
	}
	var marker MarkFailedOutput
	switch err := h.getJSON(ctx, vr.area, "failed.json", &marker); {
	case err == nil:
		return marker, nil // already recorded by an earlier attempt
	case !errors.Is(err, objects.ErrNotFound):
		return nil, err
	}
	doc := vr.doc
	doc.Version = "unknown"
	var src sourceFile
	switch err := h.getJSON(ctx, vr.area, "source.json", &src); {
	case err == nil:
		doc.Version, doc.SizeBytes = src.Version, src.Size
	case !errors.Is(err, objects.ErrNotFound):
		return nil, err
	}
	if err := h.store.For(vr.v.Scope).Fail(ctx, doc, reason); err != nil {
		return nil, err
	}
	out := MarkFailedOutput{Recorded: true, Reason: reason}
	if err := h.putJSON(ctx, vr.area, "failed.json", out); err != nil {
		worker.Logger(ctx).Warn("failure recorded; marker not written (a retry may audit it twice)", zap.Error(err))
	}
	return out, nil
}
