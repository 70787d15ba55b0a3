package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgvector/pgvector-go"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
)

// Hit is one search result.
type Hit struct {
	DocumentID string  `json:"document_id"`
	SourceURI  string  `json:"source_uri"`
	Ordinal    int     `json:"ordinal"`
	Page       int     `json:"page"`
	Score      float64 `json:"score"` // cosine similarity
	Text       string  `json:"text"`
}

// Search returns the k chunks of the scope's tenant nearest to vec (cosine), with
// RLS as the only tenant predicate. Kept as the baseline that make bench
// compares internal/retrieval against: on skewed tenants it comes back short
// for small tenants (the planner cannot see RLS's tenant). Use
// retrieval.Searcher, which every product path (CLI, API, demo) does.
func (c *Scoped) Search(ctx context.Context, vec []float32, k int) ([]Hit, error) {
	if k <= 0 || k > 1000 {
		return nil, fmt.Errorf("pgstore: k must be in 1..1000")
	}
	var hits []Hit
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL hnsw.iterative_scan = relaxed_order"); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT document_id, source_uri, ordinal, page, score, text FROM (
			SELECT c.document_id, d.source_uri, c.ordinal, c.page, 1 - (c.embedding <=> $1) AS score, c.text,
			       c.embedding <=> $1 AS distance
			FROM chunks c JOIN documents d USING (tenant_id, document_id, version)
			WHERE d.status = 'ready'
			ORDER BY c.embedding <=> $1 LIMIT $2) nn ORDER BY distance`, pgvector.NewVector(vec), k)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h Hit
			if err := rows.Scan(&h.DocumentID, &h.SourceURI, &h.Ordinal, &h.Page, &h.Score, &h.Text); err != nil {
				return err
			}
			hits = append(hits, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: search: %w", err)
	}
	return hits, nil
}

// DocumentState is a document's stored status.
type DocumentState struct {
	DocumentID string `json:"document_id"`
	Status     string `json:"status"`
	Version    string `json:"version"`
	Chunks     int    `json:"chunks"`
	Error      string `json:"error,omitempty"`
}

// Documents lists the scope's tenant's documents.
func (c *Scoped) Documents(ctx context.Context) ([]DocumentState, error) {
	var out []DocumentState
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		rows, err := tx.Query(ctx, `SELECT d.document_id, d.status, d.version,
			(SELECT count(*) FROM chunks c WHERE c.document_id = d.document_id
				AND c.version <> d.pending_version), d.error
			FROM documents d ORDER BY d.document_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d DocumentState
			if err := rows.Scan(&d.DocumentID, &d.Status, &d.Version, &d.Chunks, &d.Error); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// PurgeTenant deletes every document, chunk and ledger row of the scope's tenant,
// and the messages parked for it that a release would run, and audits it. The audit chain itself is kept (it is the record of the
// purge), and so are the ledger's records of spent deletes and purges (a job
// id, no document data): a purge is single-use like a delete, and a replayed
// purge or delete must stay a no-op afterwards (ErrAlreadyDone).
func (c *Scoped) PurgeTenant(ctx context.Context) (int64, error) {
	var n int64
	err := c.withDone(ctx, func(ctx context.Context, tx tenantdb.Tx) (bool, error) {
		if err := spendJob(ctx, tx, "purge", "purge:"+c.scope.JobID()); err != nil {
			return false, err
		}
		var err error
		if n, err = tx.Exec(ctx, "DELETE FROM documents"); err != nil {
			return false, err
		}
		if _, err = tx.Exec(ctx, "DELETE FROM jobs WHERE kind NOT IN ('delete', 'purge')"); err != nil {
			return false, err
		}
		// Messages parked or deferred for the tenant would bring purged
		// documents back when released. Refused ones are never released and
		// stay for operators.
		parked, err := tx.Exec(ctx, "DELETE FROM parked_messages WHERE tenant_id = tenantry_current_tenant() AND refused = ''")
		if err != nil {
			return false, err
		}
		_, err = tx.Audit(ctx, "tenant.purged", "tenant:"+c.scope.TenantID().String(), "", detail(map[string]any{"documents": n, "parked_messages": parked}))
		return true, err
	})
	return n, err
}

// Document returns one stored document's source and status (ErrNotFound if
// the tenant has no such document).
func (c *Scoped) Document(ctx context.Context, id string) (pipeline.Document, string, error) {
	var (
		d      pipeline.Document
		status string
	)
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		return tx.QueryRow(ctx, `SELECT document_id, source_uri, version, media_type, filename, size_bytes, sequencer, status
			FROM documents WHERE document_id = $1`, id).
			Scan(&d.DocumentID, &d.SourceURI, &d.Version, &d.MediaType, &d.Filename, &d.SizeBytes, &d.Sequencer, &status)
	})
	if errors.Is(err, tenantdb.ErrNoRows) {
		return d, "", ErrNotFound
	}
	if err != nil {
		return d, "", fmt.Errorf("pgstore: document: %w", err)
	}
	return d, status, nil
}
