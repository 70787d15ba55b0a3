package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"go.uber.org/zap"
)

// GroupConfig turns on grouped writes: the final write of small documents
// (a document whose chunks all go in with its flip) of the same tenant that
// are ready at about the same time is made in one transaction, with one
// statement per step for the whole group instead of one per document.
type GroupConfig struct {
	// MaxDocs bounds the documents of one group (0: grouping off).
	MaxDocs int
	// MaxChunks bounds the chunks of one group (default 256).
	MaxChunks int
	// Writers bounds the groups written at once across all tenants
	// (default 2, about the database's cores): concurrent inserts into one
	// HNSW index contend for its pages and cost more CPU per chunk, and
	// flips that wait for a writer join their tenant's next group.
	Writers int
	// Reserve is how many groups more may be written at once, beyond
	// Writers, by tenants writing fewer groups than Reserve (with the
	// default 1: tenants none of whose groups is being written), while
	// every writer is busy (0: none, at most Writers): a tenant whose
	// documents are ready next to a backlog's groups does not wait for one
	// of those transactions to end before its own starts. Writers and
	// reserve are handed out by tenant by fair dispatch's scheduler
	// (internal/dispatch), which owns the rule.
	Reserve int
	// Timeout bounds one group's transaction (default 60s); a group is not
	// cancelled with the context of any one of its documents.
	Timeout time.Duration
}

func (g GroupConfig) withDefaults() GroupConfig {
	if g.MaxChunks <= 0 {
		g.MaxChunks = 256
	}
	if g.Writers <= 0 {
		g.Writers = 2
	}
	if g.Timeout <= 0 {
		g.Timeout = 60 * time.Second
	}
	g.Reserve = min(max(g.Reserve, 0), g.Writers)
	return g
}

// grouper queues the flips of small documents per tenant. Nothing waits for
// a group to fill: a flip that arrives while every group of its tenant in
// progress is being written starts another group at once if a writer is
// free (so a tenant's documents ready one after the other are written side
// by side, as without grouping, and one never waits for another's write);
// while every writer is busy, the flips that arrive queue up and go
// together in the next group (group commit), so a busy tenant's documents
// share transactions.
type grouper struct {
	s   *Store
	cfg GroupConfig

	mu      sync.Mutex
	tenants map[uuid.UUID]*tenantQueue
	hold    chan struct{}       // tests: groups wait for it to close
	writers *dispatch.Scheduler // a slot per group being written, shared fairly by tenants
}

type tenantQueue struct {
	queue []*flip
	// drains counts the goroutines draining the queue (at most Writers),
	// writing those of them that hold a writer and write a group; the
	// others wait for a writer and take the queue's head when they get one.
	drains, writing int
}

// flip is one document's final write waiting for its group.
type flip struct {
	p      *pending
	chunks []pipeline.Chunk
	embs   []pipeline.Embedding
	model  string
	done   chan error
}

// submit queues f and waits for its outcome (or ctx).
func (g *grouper) submit(ctx context.Context, f *flip) error {
	tid := f.p.c.scope.TenantID()
	g.mu.Lock()
	q := g.tenants[tid]
	if q == nil {
		q = &tenantQueue{}
		g.tenants[tid] = q
	}
	q.queue = append(q.queue, f)
	if q.drains == q.writing && q.drains < g.cfg.Writers {
		// Every drain of the tenant is writing: another one takes this
		// flip as soon as a writer is free, instead of after their groups.
		q.drains++
		go g.drain(context.WithoutCancel(ctx), tid, q) // outlives the flip that started it
	}
	g.mu.Unlock()
	select {
	case err := <-f.done:
		return err
	case <-ctx.Done():
		// The group may still commit this document: a retry then finds
		// it done (the same bytes) or resumes its pending version.
		return ctx.Err()
	}
}

// drain writes the tenant's queued flips, group after group, until none
// is left.
func (g *grouper) drain(ctx context.Context, tid uuid.UUID, q *tenantQueue) {
	for {
		g.mu.Lock()
		if h := g.hold; h != nil {
			g.mu.Unlock()
			<-h
			g.mu.Lock()
		}
		if len(q.queue) == 0 {
			q.drains--
			if q.drains == 0 {
				delete(g.tenants, tid)
			}
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		// Flips arriving meanwhile join this group. The scheduler's reserve
		// is taken only by a tenant none of whose groups is being written.
		release, _ := g.writers.Acquire(ctx, tid.String(), dispatch.Share{Weight: 1}) // ctx is never cancelled
		g.mu.Lock()
		n, chunks := 0, 0
		for n < len(q.queue) && n < g.cfg.MaxDocs && (n == 0 || chunks+len(q.queue[n].chunks) <= g.cfg.MaxChunks) {
			chunks += len(q.queue[n].chunks)
			n++
		}
		batch := q.queue[:n:n]
		q.queue = q.queue[n:]
		if n > 0 {
			q.writing++
		}
		g.mu.Unlock()
		if n > 0 { // else another drain took the queue meanwhile
			g.write(batch)
			g.mu.Lock()
			q.writing--
			g.mu.Unlock()
		}
		release()
	}
}

// write makes one group visible. The happy path is one transaction for the
// whole group; if that transaction fails, each document is written again
// alone (Finish's own transaction), so one document's failure is its own:
// the others land, and it fails with its own reason.
func (g *grouper) write(batch []*flip) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
	defer cancel()
	if len(batch) > 1 {
		results, ran, err := g.writeGroup(ctx, batch)
		if err == nil {
			for i, f := range batch {
				f.p.c.committed(ran[i])
				f.done <- results[i]
			}
			return
		}
		g.s.logger.Debug("grouped write failed; writing its documents one by one",
			zapTenant(batch[0].p.c.scope), zapDocs(len(batch)), zapErr(err))
	}
	for _, f := range batch {
		f.done <- f.p.finish(ctx, f.chunks, f.embs, len(f.chunks), f.model)
	}
}

// errRetrySingly makes a group's transaction roll back so its documents
// are written one by one.
var errRetrySingly = errors.New("pgstore: group needs writing one by one")

// writeGroup is the group's transaction. Its results hold each document's
// outcome, and whether its ReadyHook did its work, when the transaction
// committed; any error rolls everything back.
func (g *grouper) writeGroup(ctx context.Context, batch []*flip) ([]error, []bool, error) {
	results := make([]error, len(batch))
	ran := make([]bool, len(batch)) // each document's ReadyHook did its work
	lead := batch[0].p.c
	err := lead.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		clear(results)
		clear(ran)
		ids := make([]string, len(batch))
		for i, f := range batch {
			ids[i] = f.p.doc.DocumentID
		}
		// One document twice in a group (two deliveries at once): one by one.
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if seen[id] {
				return errRetrySingly
			}
			seen[id] = true
		}
		rows, err := readDocs(ctx, tx, ids)
		if err != nil {
			return err
		}
		// The same checks as Finish, per document; a document that drops
		// out here has written nothing yet.
		var write []int
		for i, f := range batch {
			doc := f.p.doc
			row := rows[doc.DocumentID]
			switch {
			case row.found && doc.Sequencer != "" && event.SequencerLess(doc.Sequencer, row.sequencer):
				continue // a newer event won: results[i] stays nil
			case !row.found:
				results[i] = fmt.Errorf("pgstore: document %w (deleted while processing)", errGone)
				continue
			case row.pendingToken != f.p.token:
				if row.status == "ready" && row.version == doc.Version && !doc.Force {
					continue // another delivery finished these bytes first
				}
				results[i] = ErrClaimLost
				continue
			}
			write = append(write, i)
		}
		if len(write) == 0 {
			return nil
		}
		tid := lead.scope.TenantID()
		var all [][]any
		docIDs := make([]string, len(write))
		versions := make([]string, len(write))
		for k, i := range write {
			f := batch[i]
			all = append(all, chunkRows(tid, f.p.doc, f.chunks, f.embs)...)
			docIDs[k], versions[k] = f.p.doc.DocumentID, f.p.doc.Version
		}
		if _, err := tx.CopyFrom(ctx, "chunks", chunkColumns, all); err != nil {
			return fmt.Errorf("pgstore: copy chunks: %w", err)
		}
		// Every document's version holds exactly its chunks, no more (an
		// earlier attempt's leftovers) and no fewer.
		counts := make(map[string]int, len(write))
		crow, err := tx.Query(ctx, `SELECT c.document_id, count(*) FROM chunks c
			JOIN unnest($1::text[], $2::text[]) AS u(document_id, version) ON c.document_id = u.document_id AND c.version = u.version
			GROUP BY c.document_id`, docIDs, versions)
		if err != nil {
			return fmt.Errorf("pgstore: count chunks: %w", err)
		}
		for crow.Next() {
			var id string
			var n int
			if err := crow.Scan(&id, &n); err != nil {
				crow.Close()
				return fmt.Errorf("pgstore: count chunks: %w", err)
			}
			counts[id] = n
		}
		crow.Close()
		if err := crow.Err(); err != nil {
			return fmt.Errorf("pgstore: count chunks: %w", err)
		}
		for _, i := range write {
			if f := batch[i]; counts[f.p.doc.DocumentID] != len(f.chunks) {
				return errRetrySingly // that document fails alone, with its reason
			}
		}
		if err := markReadyGroup(ctx, tx, batch, write, rows); err != nil {
			return err
		}
		for _, i := range write {
			if ran[i], err = batch[i].p.c.runReady(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return results, ran, nil
}

// markReadyGroup is markReady for the documents write of batch, after
// their chunks went in: one statement removes their other versions'
// chunks, one flips them all, one closes their ledger entries (the three
// in one round trip), and each gets its own audit row under its own job
// (all in a second round trip).
func markReadyGroup(ctx context.Context, tx tenantdb.Tx, batch []*flip, write []int, rows map[string]docRow) error {
	n := len(write)
	ids, versions, models, seqs, keys := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	counts, sizes := make([]int64, n), make([]int64, n)
	audits := make([]tenantdb.AuditEntry, n)
	for k, i := range write {
		f := batch[i]
		d := f.p.doc
		ids[k], versions[k], models[k], seqs[k], keys[k] = d.DocumentID, d.Version, f.model, d.Sequencer, jobKey("ingest", d)
		counts[k], sizes[k] = int64(len(f.chunks)), d.SizeBytes
		audits[k] = tenantdb.AuditEntry{Scope: f.p.c.scope, Action: ingestAction(d, rows[d.DocumentID], "document.ingested"),
			Resource: d.SourceURI, PayloadHash: d.Version, Detail: detail(map[string]any{
				"document_id": d.DocumentID, "chunks": len(f.chunks), "model": f.model, "size_bytes": d.SizeBytes,
			})}
	}
	if _, err := tx.ExecEach(ctx,
		tenantdb.Stmt{SQL: `DELETE FROM chunks c USING unnest($1::text[], $2::text[]) AS u(document_id, version)
			WHERE c.document_id = u.document_id AND c.version <> u.version`, Args: []any{ids, versions}},
		tenantdb.Stmt{SQL: `UPDATE documents d SET status = 'ready', version = u.version, chunk_count = u.chunks, model = u.model,
			size_bytes = u.size, error = '', sequencer = CASE WHEN u.seq = '' THEN d.sequencer ELSE u.seq END,
			pending_version = '', pending_key = '', pending_token = '', updated_at = now()
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[]) AS u(document_id, version, chunks, model, size, seq)
			WHERE d.document_id = u.document_id`, Args: []any{ids, versions, counts, models, sizes, seqs}},
		tenantdb.Stmt{SQL: `UPDATE jobs SET status = 'done', updated_at = now() WHERE job_key = ANY($1)`, Args: []any{keys}},
	); err != nil {
		return fmt.Errorf("pgstore: mark ready: %w", err)
	}
	_, err := tx.AuditEach(ctx, audits)
	return err
}

// readDocs reads and locks (FOR UPDATE, in document id order) the stored
// rows of ids.
func readDocs(ctx context.Context, tx tenantdb.Tx, ids []string) (map[string]docRow, error) {
	out := make(map[string]docRow, len(ids))
	rows, err := tx.Query(ctx, `SELECT document_id, version, status, sequencer, pending_version, pending_key, pending_token
		FROM documents WHERE document_id = ANY($1) ORDER BY document_id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("pgstore: read documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		r := docRow{found: true}
		if err := rows.Scan(&id, &r.version, &r.status, &r.sequencer, &r.pendingVersion, &r.pendingKey, &r.pendingToken); err != nil {
			return nil, fmt.Errorf("pgstore: read documents: %w", err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: read documents: %w", err)
	}
	return out, nil
}

func zapTenant(s tenantdb.Scope) zap.Field { return zap.Stringer("tenant_id", s.TenantID()) }
func zapDocs(n int) zap.Field              { return zap.Int("documents", n) }
func zapErr(err error) zap.Field           { return zap.Error(err) }
