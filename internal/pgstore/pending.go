package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/pgvector/pgvector-go"

	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
)

// ErrClaimLost: another attempt took the document over while this one was
// writing its pending version (a second delivery of the message, or a newer
// upload). Nothing of this attempt becomes visible; retrying is safe (it
// finds the document done, superseded, or resumes the pending version).
var ErrClaimLost = errors.New("pgstore: another attempt holds the document")

var _ pipeline.PendingStore = (*Scoped)(nil)

// Open implements pipeline.PendingStore: Claim, and in the same transaction
// take the document's pending version for this attempt. A pending version
// of the same bytes written with the same key (model, chunking, build) is
// resumed: the chunks it stored are kept and reported by Stored. Any other
// pending chunks of these bytes are discarded, as are, for a reindex, the
// version's ready chunks (the document is not ready while it is processed,
// so search never sees the gap).
func (c *Scoped) Open(ctx context.Context, doc pipeline.Document, key string) (pipeline.Claim, pipeline.Pending, error) {
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return 0, nil, fmt.Errorf("pgstore: token: %w", err)
	}
	p := &pending{c: c, doc: doc, token: hex.EncodeToString(tok[:]), stored: map[int]bool{}}
	claim := pipeline.ClaimProceed
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		clear(p.stored)
		var row docRow
		var err error
		claim, row, err = c.claim(ctx, tx, doc, &pendingTake{version: doc.Version, key: key, token: p.token})
		if err != nil || claim != pipeline.ClaimProceed {
			return err
		}
		if row.pendingVersion == doc.Version && row.pendingKey == key && key != "" {
			rows, err := tx.Query(ctx, `SELECT ordinal FROM chunks WHERE document_id = $1 AND version = $2`, doc.DocumentID, doc.Version)
			if err != nil {
				return fmt.Errorf("pgstore: pending chunks: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				var o int
				if err := rows.Scan(&o); err != nil {
					return fmt.Errorf("pgstore: pending chunks: %w", err)
				}
				p.stored[o] = true
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("pgstore: pending chunks: %w", err)
			}
		} else if row.found { // a new document has no chunks to discard
			if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1 AND version = $2`, doc.DocumentID, doc.Version); err != nil {
				return fmt.Errorf("pgstore: discard pending chunks: %w", err)
			}
		}
		return nil // the claim took the pending version
	})
	if err != nil || claim != pipeline.ClaimProceed {
		return claim, nil, err
	}
	return claim, p, nil
}

// pending is one attempt's pending version.
type pending struct {
	c      *Scoped
	doc    pipeline.Document
	token  string
	stored map[int]bool // ordinals a resumed attempt already stored (read-only after Open)
	wrote  atomic.Bool  // a batch was written (Write)
}

func (p *pending) Stored(ordinal int) bool { return p.stored[ordinal] }

func (p *pending) Resumed() int { return len(p.stored) }

// hold locks the document row against a concurrent claim, flip or delete
// (all FOR UPDATE) and checks this attempt still holds the pending version.
// A batch takes FOR KEY SHARE — the lock its rows' foreign key takes anyway
// — so this attempt's batches run side by side.
func (p *pending) hold(ctx context.Context, tx tenantdb.Tx, lock string) (docRow, error) {
	row, err := readDoc(ctx, tx, p.doc.DocumentID, lock)
	switch {
	case err != nil:
		return row, err
	case !row.found:
		return row, fmt.Errorf("pgstore: document %w (deleted while processing)", errGone)
	case row.pendingToken != p.token:
		return row, ErrClaimLost
	}
	return row, nil
}

// Write stores one batch of the pending version in its own transaction.
func (p *pending) Write(ctx context.Context, chunks []pipeline.Chunk, embs []pipeline.Embedding) error {
	if len(chunks) != len(embs) {
		return fmt.Errorf("pgstore: %d chunks but %d embeddings", len(chunks), len(embs))
	}
	if len(chunks) == 0 {
		return nil
	}
	p.wrote.Store(true)
	return p.c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := p.hold(ctx, tx, " FOR KEY SHARE"); err != nil {
			return err
		}
		return p.copy(ctx, tx, chunks, embs)
	})
}

func (p *pending) copy(ctx context.Context, tx tenantdb.Tx, chunks []pipeline.Chunk, embs []pipeline.Embedding) error {
	if len(chunks) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, "chunks", chunkColumns, chunkRows(p.c.scope.TenantID(), p.doc, chunks, embs)); err != nil {
		return fmt.Errorf("pgstore: copy chunks: %w", err)
	}
	return nil
}

// chunkRows are the chunks table's rows (chunkColumns) of doc's chunks.
func chunkRows(tid uuid.UUID, doc pipeline.Document, chunks []pipeline.Chunk, embs []pipeline.Embedding) [][]any {
	rows := make([][]any, len(chunks))
	for i, ch := range chunks {
		h := sha256.Sum256([]byte(ch.Text))
		rows[i] = []any{tid, doc.DocumentID, doc.Version, ch.Ordinal, ch.Text, ch.TokenCount, ch.CharStart, ch.CharEnd,
			ch.Page, pgvector.NewVector(embs[i].Vector), embs[i].Model, "sha256:" + hex.EncodeToString(h[:])}
	}
	return rows
}

// Finish implements pipeline.Pending: in one short transaction it writes the
// last batch (if any), checks the version is complete (total chunks), makes
// it the version search sees, removes every other version's chunks, closes
// the ledger entry and appends the one audit row. A newer event applied in
// the meantime wins (nothing changes); a document another attempt already
// made ready with these bytes is a duplicate (nothing changes).
//
// With grouped writes on (Store.Group), a document whose chunks all come
// with Finish (none written before, none resumed) is written with the other
// such documents of its tenant that are ready at the same time, in one
// transaction; each keeps its own outcome (see grouper.write).
func (p *pending) Finish(ctx context.Context, chunks []pipeline.Chunk, embs []pipeline.Embedding, total int, model string) error {
	if len(chunks) != len(embs) {
		return fmt.Errorf("pgstore: %d chunks but %d embeddings", len(chunks), len(embs))
	}
	if g := p.c.s.group; g != nil && total > 0 && len(chunks) == total && len(p.stored) == 0 && !p.wrote.Load() {
		return g.submit(ctx, &flip{p: p, chunks: chunks, embs: embs, model: model, done: make(chan error, 1)})
	}
	return p.finish(ctx, chunks, embs, total, model)
}

// finish is Finish's own transaction.
func (p *pending) finish(ctx context.Context, chunks []pipeline.Chunk, embs []pipeline.Embedding, total int, model string) error {
	doc := p.doc
	return p.c.withDone(ctx, func(ctx context.Context, tx tenantdb.Tx) (bool, error) {
		row, err := p.hold(ctx, tx, " FOR UPDATE")
		if row.found && doc.Sequencer != "" && event.SequencerLess(doc.Sequencer, row.sequencer) {
			return false, nil // a newer event won while we worked: drop our result
		}
		if errors.Is(err, ErrClaimLost) && row.status == "ready" && row.version == doc.Version && !doc.Force {
			return false, nil // another delivery finished these bytes first
		}
		if err != nil {
			return false, err
		}
		if err := p.copy(ctx, tx, chunks, embs); err != nil {
			return false, err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1 AND version = $2`,
			doc.DocumentID, doc.Version).Scan(&n); err != nil {
			return false, fmt.Errorf("pgstore: count chunks: %w", err)
		}
		if n != total {
			return false, fmt.Errorf("pgstore: pending version has %d of %d chunks", n, total)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1 AND version <> $2`, doc.DocumentID, doc.Version); err != nil {
			return false, fmt.Errorf("pgstore: drop old chunks: %w", err)
		}
		return true, p.c.markReady(ctx, tx, doc, row, total, model, "document.ingested")
	})
}

// dropPending discards the partial chunks of doc's version when it is the
// pending one (a failed document keeps no half-written version).
func dropPending(ctx context.Context, tx tenantdb.Tx, doc pipeline.Document) error {
	if doc.Version == "" {
		return nil
	}
	n, err := tx.Exec(ctx, `UPDATE documents SET pending_version = '', pending_key = '', pending_token = ''
		WHERE document_id = $1 AND pending_version = $2`, doc.DocumentID, doc.Version)
	if err != nil {
		return fmt.Errorf("pgstore: drop pending version: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM chunks c USING documents d
		WHERE c.tenant_id = d.tenant_id AND c.document_id = d.document_id AND c.document_id = $1 AND c.version = $2
		AND (d.status <> 'ready' OR d.version <> $2)`, doc.DocumentID, doc.Version); err != nil {
		return fmt.Errorf("pgstore: drop pending chunks: %w", err)
	}
	return nil
}
