package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// AttributesOutcome is what SetAttributes did.
type AttributesOutcome int

// The outcomes.
const (
	// AttributesSet: the document's attributes changed (and were audited).
	AttributesSet AttributesOutcome = iota
	// AttributesUnchanged: they already were these (a redelivery).
	AttributesUnchanged
	// AttributesNoDocument: no ready document of this source is stored (not
	// ingested yet, deleted, replaced by another object or failed): nothing
	// changed.
	AttributesNoDocument
	// AttributesBusy: the document is being ingested; try again after.
	AttributesBusy
)

// SetAttributes replaces the attributes of the stored ready document
// documentID whose source is sourceURI (a metadata sidecar changed after
// its document was ingested), with a document.attributes_updated audit row
// in the same transaction. attrs nil clears them. It changes nothing for a
// document of another source or in another state, and is idempotent.
func (c *Scoped) SetAttributes(ctx context.Context, documentID, sourceURI string, attrs map[string]any) (AttributesOutcome, error) {
	enc, err := attributesJSON(attrs)
	if err != nil {
		return 0, err
	}
	if enc == nil {
		empty := "{}"
		enc = &empty
	}
	out := AttributesNoDocument
	err = c.with(ctx, func(ctx context.Context, tx tenantdb.Tx) error {
		out = AttributesNoDocument
		var status, source, version string
		var same bool
		err := tx.QueryRow(ctx, `SELECT status, source_uri, version, attributes = $2::jsonb FROM documents WHERE document_id = $1 FOR UPDATE`,
			documentID, *enc).Scan(&status, &source, &version, &same)
		switch {
		case errors.Is(err, tenantdb.ErrNoRows) || (err == nil && source != sourceURI):
			return nil
		case err != nil:
			return fmt.Errorf("pgstore: read document: %w", err)
		case status == "processing":
			out = AttributesBusy
			return nil
		case status != "ready":
			return nil
		case same:
			out = AttributesUnchanged
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET attributes = $2::jsonb, updated_at = now() WHERE document_id = $1`, documentID, *enc); err != nil {
			return fmt.Errorf("pgstore: set attributes: %w", err)
		}
		out = AttributesSet
		_, err = tx.Audit(ctx, "document.attributes_updated", sourceURI, version, detail(map[string]any{
			"document_id": documentID, "attributes": len(attrs),
		}))
		return err
	})
	return out, err
}
