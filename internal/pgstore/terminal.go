package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
)

// Abandoned describes why the work on a claimed document ended without a
// result: its message was dead-lettered after a timeout, a crash of the
// worker handling it, or its last allowed receive.
type Abandoned struct {
	// Reason is the stable, text-free code stored as the document's error
	// ("timeout", "transient", "panic", "max_receives", ...).
	Reason string
	// DeadLetterReason is the reason the message carries in the DLQ.
	DeadLetterReason string
	// Attempts is how many times the message was received.
	Attempts int
}

// FailClaimed marks document documentID failed with a.Reason if it is still
// `processing` under the claim of the scope's job (the message being
// dead-lettered), in one tenant transaction with its ledger row and a
// document.failed audit row. It reports whether it changed the document. A
// document that is ready or failed, missing, or claimed by another job (a
// newer upload in progress) is left alone, so a later or concurrent
// successful delivery is never undone; a failed document is processed again
// by any later delivery or replay (Claim proceeds for every status but
// ready).
func (c *Scoped) FailClaimed(ctx context.Context, documentID string, a Abandoned) (bool, error) {
	changed := false
	err := c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		changed = false
		var version, sourceURI string
		err := tx.QueryRow(ctx, `UPDATE documents SET status = 'failed', error = $2, updated_at = now()
			WHERE document_id = $1 AND status = 'processing' AND claimed_by = $3
			RETURNING version, source_uri`, documentID, a.Reason, c.scope.JobID()).Scan(&version, &sourceURI)
		if errors.Is(err, tenantdb.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pgstore: fail claimed document: %w", err)
		}
		key := jobKey("ingest", pipeline.Document{DocumentID: documentID, Version: version})
		if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'failed', error = $2, updated_at = now()
			WHERE job_key = $1 AND status = 'running'`, key, a.Reason); err != nil {
			return fmt.Errorf("pgstore: ledger: %w", err)
		}
		if _, err := tx.Audit(ctx, "document.failed", sourceURI, version, detail(map[string]any{
			"document_id": documentID, "reason": a.Reason, "dead_letter_reason": a.DeadLetterReason, "attempts": a.Attempts,
		})); err != nil {
			return fmt.Errorf("pgstore: audit: %w", err)
		}
		changed = true
		return nil
	})
	return changed, err
}
