package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"go.uber.org/zap"
)

// Gateway is the tenant gateway (a *tenantdb.DB, or a test transaction from
// tenantdbtest.TestTx): the only way to the database, and only with a
// verified Scope.
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
}

// Store is the pgvector-backed document store.
type Store struct {
	db     Gateway
	logger *zap.Logger
	group  *grouper // nil: every document writes alone
}

// New returns a Store over the tenant gateway.
func New(db Gateway, logger *zap.Logger) *Store {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Store{db: db, logger: logger}
}

// Group turns on grouped writes (see GroupConfig) and returns s; call it
// before the store is used. cfg.MaxDocs <= 1 leaves them off.
func (s *Store) Group(cfg GroupConfig) *Store {
	if cfg.MaxDocs <= 1 {
		s.group = nil
		return s
	}
	cfg = cfg.withDefaults()
	writers, err := dispatch.NewWith(dispatch.Config{Slots: cfg.Writers, Credit: dispatch.DefaultCredit, Reserve: cfg.Reserve})
	if err != nil {
		panic(fmt.Sprintf("pgstore: group writers: %v", err)) // unreachable: withDefaults bounds them
	}
	s.group = &grouper{s: s, cfg: cfg, tenants: map[uuid.UUID]*tenantQueue{}, writers: writers}
	return s
}

// For binds the store to one verified tenant scope: the only way to the
// store's operations.
func (s *Store) For(scope tenantdb.Scope) *Scoped {
	return &Scoped{s: s, scope: scope}
}

// Scoped is the store bound to one verified tenant scope (a pipeline.Store).
// Each method runs one short tenant transaction.
type Scoped struct {
	s     *Store
	scope tenantdb.Scope
	ready *ReadyHook // nil: none
}

// ReadyHook is a statement of the caller's run in the transaction that
// ends a job's work on the database (makes a document ready: Finish, alone
// or grouped, and Commit; or deletes one or purges the tenant: Delete and
// PurgeTenant), after the job's own statements: the ingest handler counts
// the job's success with its tenant's breaker there instead of in a
// transaction of its own. It does not run where the transaction did not do
// the job's work (a document a newer event superseded). Run reports
// whether it did its work (false: the caller does it itself afterwards);
// an error fails that transaction. Applied is set once a transaction in
// which Run reported true has committed, and only then.
type ReadyHook struct {
	Run     func(ctx context.Context, tx tenantdb.Tx) (bool, error)
	applied atomic.Bool
}

// Applied reports whether Run's work committed with the document.
func (h *ReadyHook) Applied() bool { return h != nil && h.applied.Load() }

// OnReady returns c with hook run in the transaction that makes its
// document ready (see ReadyHook); one hook per document.
func (c *Scoped) OnReady(hook *ReadyHook) *Scoped {
	cc := *c
	cc.ready = hook
	return &cc
}

// runReady runs c's hook in tx (if any) and reports whether it did its
// work; the caller marks it applied once tx commits.
func (c *Scoped) runReady(ctx context.Context, tx tenantdb.Tx) (bool, error) {
	if c.ready == nil || c.ready.Run == nil {
		return false, nil
	}
	ok, err := c.ready.Run(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("pgstore: on ready: %w", err)
	}
	return ok, nil
}

// committed marks c's hook applied after a transaction in which it ran
// (ran true) committed.
func (c *Scoped) committed(ran bool) {
	if ran && c.ready != nil {
		c.ready.applied.Store(true)
	}
}

var (
	_ pipeline.Store      = (*Scoped)(nil)
	_ pipeline.Prechecker = (*Scoped)(nil)
)

func (c *Scoped) with(ctx context.Context, fn func(ctx context.Context, tx tenantdb.Tx) error) error {
	return c.s.db.WithTenant(ctx, c.scope, fn)
}

// withDone is with for the transaction that ends a job's work: when fn
// reports the job's work done there (not, say, a document a newer event
// superseded), c's hook (if any) runs after it in the same transaction,
// and is marked applied once it commits.
func (c *Scoped) withDone(ctx context.Context, fn func(ctx context.Context, tx tenantdb.Tx) (bool, error)) error {
	var ran bool
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		ran = false // the transaction may run again
		done, err := fn(ctx, tx)
		if err != nil || !done {
			return err
		}
		ran, err = c.runReady(ctx, tx)
		return err
	})
	if err == nil {
		c.committed(ran)
	}
	return err
}

type docRow struct {
	found     bool
	version   string
	status    string
	sequencer string
	// The pending version being written in batches (see pending.go).
	pendingVersion, pendingKey, pendingToken string
}

func lockDoc(ctx context.Context, tx tenantdb.Tx, id string) (docRow, error) {
	return readDoc(ctx, tx, id, " FOR UPDATE")
}

// readDoc reads the stored row of document id (found false when there is
// none); lock is "" or a locking clause.
func readDoc(ctx context.Context, tx tenantdb.Tx, id, lock string) (docRow, error) {
	var r docRow
	err := tx.QueryRow(ctx, `SELECT version, status, sequencer, pending_version, pending_key, pending_token
		FROM documents WHERE document_id = $1`+lock, id).
		Scan(&r.version, &r.status, &r.sequencer, &r.pendingVersion, &r.pendingKey, &r.pendingToken)
	if errors.Is(err, tenantdb.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("pgstore: read document: %w", err)
	}
	r.found = true
	return r, nil
}

// judge decides from the stored row whether doc needs processing: ClaimStale
// when a newer event was applied; ClaimDone when the ready row holds doc's
// version or, before the fetch (doc.Version not known yet), came from doc's
// own event (the same sequencer); ClaimProceed otherwise, and always for
// forced reprocessing.
func (r docRow) judge(doc pipeline.Document) pipeline.Claim {
	switch {
	case !r.found:
		return pipeline.ClaimProceed
	case doc.Sequencer != "" && event.SequencerLess(doc.Sequencer, r.sequencer):
		return pipeline.ClaimStale
	case doc.Force || r.status != "ready":
		return pipeline.ClaimProceed
	case doc.Version != "" && r.version == doc.Version,
		doc.Version == "" && doc.Sequencer != "" && r.sequencer == doc.Sequencer:
		return pipeline.ClaimDone
	}
	return pipeline.ClaimProceed
}

func jobKey(kind string, doc pipeline.Document) string {
	return kind + ":" + doc.DocumentID + ":" + doc.Version
}

func (c *Scoped) Claim(ctx context.Context, doc pipeline.Document) (pipeline.Claim, error) {
	claim := pipeline.ClaimProceed
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		claim, _, err = c.claim(ctx, tx, doc, nil)
		return err
	})
	return claim, err
}

// pendingTake is the pending version an attempt takes with its claim:
// version, key and the attempt's token.
type pendingTake struct{ version, key, token string }

// claim is Claim's transaction; it also returns the row as it was. take,
// if not nil, is written into the claimed row in the same statement (Open).
//
// The row is judged under its lock. When there is no row there is nothing
// to lock, and a concurrent attempt at the same document may insert one and
// even finish it before this claim writes: so the claim inserts only if
// there is still no row, and otherwise judges the row that attempt wrote,
// locked (a claim must never turn a document another attempt made ready
// back into processing on the strength of a read that saw no row).
//
// A document row implies its tenant's row (foreign key): the tenant is
// inserted, if it is new, only with a new document, in the same statement.
func (c *Scoped) claim(ctx context.Context, tx tenantdb.Tx, doc pipeline.Document, take *pendingTake) (pipeline.Claim, docRow, error) {
	attrs, err := attributesJSON(doc.Attributes)
	if err != nil {
		return 0, docRow{}, err
	}
	// Without take, the pending columns keep their values (NULL: keep).
	var pv, pk, pt *string
	if take != nil {
		pv, pk, pt = &take.version, &take.key, &take.token
	}
	const insert = `WITH tenant AS (INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING)
		INSERT INTO documents (tenant_id, document_id, source_uri, version, status, size_bytes, media_type, filename, sequencer, attributes, claimed_by,
			pending_version, pending_key, pending_token)
		VALUES ($1, $2, $3, $4, 'processing', $5, $6, $7, $8, coalesce($9::jsonb, '{}'::jsonb), $10, coalesce($11, ''), coalesce($12, ''), coalesce($13, ''))
		ON CONFLICT (tenant_id, document_id) DO NOTHING`
	row, err := lockDoc(ctx, tx, doc.DocumentID)
	if err != nil {
		return 0, row, err
	}
	if !row.found {
		n, err := tx.Exec(ctx, insert, c.scope.TenantID(), doc.DocumentID, doc.SourceURI, doc.Version, doc.SizeBytes, doc.MediaType,
			doc.Filename, doc.Sequencer, attrs, c.scope.JobID(), pv, pk, pt)
		if err != nil {
			return 0, row, fmt.Errorf("pgstore: claim document: %w", err)
		}
		if n == 1 {
			return pipeline.ClaimProceed, row, c.ledger(ctx, tx, doc)
		}
		// Another attempt inserted the row since: judge that row.
		if row, err = lockDoc(ctx, tx, doc.DocumentID); err != nil {
			return 0, row, err
		}
	}
	if claim := row.judge(doc); claim != pipeline.ClaimProceed {
		return claim, row, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'processing', source_uri = $2, size_bytes = $3, media_type = $4,
			filename = $5, attributes = coalesce($6::jsonb, attributes), claimed_by = $7, error = '', updated_at = now(),
			pending_version = coalesce($8, pending_version), pending_key = coalesce($9, pending_key),
			pending_token = coalesce($10, pending_token)
		WHERE document_id = $1`, doc.DocumentID, doc.SourceURI, doc.SizeBytes, doc.MediaType, doc.Filename, attrs,
		c.scope.JobID(), pv, pk, pt); err != nil {
		return 0, row, fmt.Errorf("pgstore: claim document: %w", err)
	}
	return pipeline.ClaimProceed, row, c.ledger(ctx, tx, doc)
}

// ledger opens (or counts another attempt at) doc's ingest job entry.
func (c *Scoped) ledger(ctx context.Context, tx tenantdb.Tx, doc pipeline.Document) error {
	_, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, job_key, kind, status, message_id) VALUES ($1, $2, 'ingest', 'running', $3)
		ON CONFLICT (tenant_id, job_key) DO UPDATE SET attempts = jobs.attempts + 1, status = 'running', updated_at = now()`,
		c.scope.TenantID(), jobKey("ingest", doc), c.scope.JobID())
	if err != nil {
		return fmt.Errorf("pgstore: ledger: %w", err)
	}
	return nil
}

func (c *Scoped) Commit(ctx context.Context, doc pipeline.Document, chunks []pipeline.Chunk, embs []pipeline.Embedding) error {
	if len(chunks) != len(embs) {
		return fmt.Errorf("pgstore: %d chunks but %d embeddings", len(chunks), len(embs))
	}
	model := ""
	if len(embs) > 0 {
		model = embs[0].Model
	}
	return c.withDone(ctx, func(ctx context.Context, tx tenantdb.Tx) (bool, error) {
		row, err := lockDoc(ctx, tx, doc.DocumentID)
		if err != nil {
			return false, err
		}
		if row.found && doc.Sequencer != "" && event.SequencerLess(doc.Sequencer, row.sequencer) {
			return false, nil // a newer event won while we embedded: drop our result
		}
		if !row.found {
			return false, fmt.Errorf("pgstore: document %w (deleted while processing)", errGone)
		}
		var existing int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1 AND version = $2`,
			doc.DocumentID, doc.Version).Scan(&existing); err != nil {
			return false, fmt.Errorf("pgstore: count chunks: %w", err)
		}
		if (doc.Force || row.pendingVersion == doc.Version) && existing > 0 {
			// Reindex: replace this version's chunks too. A pending version
			// of these bytes (a streamed attempt that did not finish) may be
			// partial: never take it for a complete duplicate.
			existing = 0
			if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1`, doc.DocumentID); err != nil {
				return false, fmt.Errorf("pgstore: drop chunks: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1 AND version <> $2`, doc.DocumentID, doc.Version); err != nil {
			return false, fmt.Errorf("pgstore: drop old chunks: %w", err)
		}
		if existing == 0 {
			if _, err := tx.CopyFrom(ctx, "chunks", chunkColumns, chunkRows(c.scope.TenantID(), doc, chunks, embs)); err != nil {
				return false, fmt.Errorf("pgstore: copy chunks: %w", err)
			}
		}
		action := "document.ingested"
		if existing > 0 {
			action = "document.ingest_duplicate"
		}
		return true, c.markReady(ctx, tx, doc, row, len(chunks), model, action)
	})
}

// markReady makes doc's version the one search sees (clearing any pending
// version), closes its ledger entry and appends the audit row.
func (c *Scoped) markReady(ctx context.Context, tx tenantdb.Tx, doc pipeline.Document, row docRow, chunks int, model, action string) error {
	if _, err := tx.ExecEach(ctx,
		tenantdb.Stmt{SQL: `UPDATE documents SET status = 'ready', version = $2, chunk_count = $3, model = $4,
			size_bytes = $5, error = '', sequencer = CASE WHEN $6 = '' THEN sequencer ELSE $6 END,
			pending_version = '', pending_key = '', pending_token = '', updated_at = now()
			WHERE document_id = $1`, Args: []any{doc.DocumentID, doc.Version, chunks, model, doc.SizeBytes, doc.Sequencer}},
		tenantdb.Stmt{SQL: `UPDATE jobs SET status = 'done', updated_at = now() WHERE job_key = $1`, Args: []any{jobKey("ingest", doc)}},
	); err != nil {
		return fmt.Errorf("pgstore: mark ready: %w", err)
	}
	_, err := tx.Audit(ctx, ingestAction(doc, row, action), doc.SourceURI, doc.Version, detail(map[string]any{
		"document_id": doc.DocumentID, "chunks": chunks, "model": model, "size_bytes": doc.SizeBytes,
	}))
	return err
}

// ingestAction is the audit action of making doc ready over row.
func ingestAction(doc pipeline.Document, row docRow, action string) string {
	if action == "document.ingested" && row.version != doc.Version && row.status == "ready" {
		action = "document.replaced"
	}
	if doc.Force {
		action = "document.reindexed"
	}
	return action
}

var chunkColumns = []string{"tenant_id", "document_id", "version", "ordinal", "text", "token_count", "char_start",
	"char_end", "page", "embedding", "model", "content_hash"}

// Fail records doc as failed with reason, unless a newer event of the
// document was applied meanwhile (its result stands).
func (c *Scoped) Fail(ctx context.Context, doc pipeline.Document, reason string) error {
	return c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, c.scope.TenantID()); err != nil {
			return err
		}
		row, err := lockDoc(ctx, tx, doc.DocumentID)
		if err != nil {
			return err
		}
		if row.found && doc.Sequencer != "" && event.SequencerLess(doc.Sequencer, row.sequencer) {
			return nil // a newer event won while we worked: its state stands
		}
		if err := dropPending(ctx, tx, doc); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO documents (tenant_id, document_id, source_uri, version, status, size_bytes, media_type, filename, sequencer, error)
			VALUES ($1, $2, $3, $4, 'failed', $5, $6, $7, $8, $9)
			ON CONFLICT (tenant_id, document_id) DO UPDATE SET status = 'failed', error = EXCLUDED.error, updated_at = now()`,
			c.scope.TenantID(), doc.DocumentID, doc.SourceURI, doc.Version, doc.SizeBytes, doc.MediaType, doc.Filename, doc.Sequencer, reason); err != nil {
			return fmt.Errorf("pgstore: mark failed: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, job_key, kind, status, error, message_id) VALUES ($1, $2, 'ingest', 'failed', $3, $4)
			ON CONFLICT (tenant_id, job_key) DO UPDATE SET status = 'failed', error = EXCLUDED.error, updated_at = now()`,
			c.scope.TenantID(), jobKey("ingest", doc), reason, c.scope.JobID()); err != nil {
			return fmt.Errorf("pgstore: ledger: %w", err)
		}
		_, err = tx.Audit(ctx, "document.failed", doc.SourceURI, doc.Version, detail(map[string]any{
			"document_id": doc.DocumentID, "reason": reason,
		}))
		return err
	})
}

// Delete removes the document in a transaction that also spends the job
// (ErrAlreadyDone if it was spent), whether or not there is a document to
// remove: a delete replayed after the document was uploaded again is a no-op.
func (c *Scoped) Delete(ctx context.Context, doc pipeline.Document) error {
	// Every outcome but an error spends the job in this transaction: the
	// job's work is done here.
	return c.withDone(ctx, func(ctx context.Context, tx tenantdb.Tx) (bool, error) {
		if err := spendJob(ctx, tx, "delete", "delete:"+c.scope.JobID()+":"+doc.DocumentID); err != nil {
			return false, err
		}
		row, err := lockDoc(ctx, tx, doc.DocumentID)
		if err != nil || !row.found {
			return true, err
		}
		if doc.Sequencer != "" && event.SequencerLess(doc.Sequencer, row.sequencer) {
			return true, nil // the object was re-created after this delete
		}
		n, err := tx.Exec(ctx, `DELETE FROM documents WHERE document_id = $1`, doc.DocumentID)
		if err != nil {
			return false, fmt.Errorf("pgstore: delete: %w", err)
		}
		if n == 0 {
			return true, nil
		}
		_, err = tx.Audit(ctx, "document.deleted", doc.SourceURI, row.version, detail(map[string]any{"document_id": doc.DocumentID}))
		return true, err
	})
}

// spendJob records a single-use job in the ledger; ErrAlreadyDone if it was
// recorded before. The row is written in the caller's transaction, so the job
// is spent exactly when its effect commits.
func spendJob(ctx context.Context, tx tenantdb.Tx, kind, key string) error {
	n, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, job_key, kind, status, message_id)
		VALUES ($1, $2, $3, 'done', $4) ON CONFLICT (tenant_id, job_key) DO NOTHING`,
		tx.Scope().TenantID(), key, kind, tx.Scope().JobID())
	if err != nil {
		return fmt.Errorf("pgstore: ledger: %w", err)
	}
	if n == 0 {
		return ErrAlreadyDone
	}
	return nil
}

func detail(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// Precheck implements pipeline.Prechecker: one read of the stored document
// decides, before the object is downloaded, that doc's event is already
// applied (ClaimDone: the ready document came from the same S3 event) or
// superseded (ClaimStale: a newer event was applied).
func (c *Scoped) Precheck(ctx context.Context, doc pipeline.Document) (pipeline.Claim, error) {
	claim := pipeline.ClaimProceed
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		claim, err = PrecheckIn(ctx, tx, doc)
		return err
	})
	return claim, err
}

// PrecheckIn is Precheck as one read in the caller's transaction (tx, under
// the document's tenant): the ingest handler makes it in the transaction of
// the tenant's breaker decision. It writes nothing.
func PrecheckIn(ctx context.Context, tx tenantdb.Tx, doc pipeline.Document) (pipeline.Claim, error) {
	row, err := readDoc(ctx, tx, doc.DocumentID, "")
	if err != nil {
		return pipeline.ClaimProceed, err
	}
	return row.judge(doc), nil
}

// attributesJSON encodes a document's attributes for the jsonb column; nil
// (keep the stored ones) stays SQL NULL.
func attributesJSON(a map[string]any) (*string, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("pgstore: attributes: %w", err)
	}
	s := string(b)
	return &s, nil
}
