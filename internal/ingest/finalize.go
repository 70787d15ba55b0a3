package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/worker"
	"go.uber.org/zap"
)

var _ worker.Finalizer = (*Handler)(nil)

// Finalize implements worker.Finalizer: before a message is dead-lettered
// (a permanent failure, a timeout or other failure on its last attempt, or
// a receive after a worker handling its last attempt was killed), every
// document the message claimed and left `processing` is marked `failed`
// with the reason code. The tenant comes, as always, from re-verifying the
// message's envelope through internal/binding; a message whose envelope
// does not verify claimed nothing. Only a row still claimed by this
// message's job changes (pgstore.Scoped.FailClaimed), so a newer upload in progress
// or a later successful delivery is never undone, and a replay of the
// dead-lettered message can still make the document ready.
func (h *Handler) Finalize(ctx context.Context, m *worker.Message, f worker.Final) error {
	evs, err := event.Decode(m.Body, m.Attributes)
	if err != nil {
		return nil // undecodable: it never reached a claim
	}
	var errs error
	for _, ev := range evs {
		if !claims(ev) {
			continue
		}
		b, err := h.Gate.Resolve(ctx, ev, m.ID)
		if err != nil {
			var be *binding.Error
			if errors.As(err, &be) && be.Kind != binding.KindUnavailable {
				continue // not verifiable, not served, or the object is gone: nothing claimed under a scope
			}
			errs = errors.Join(errs, fmt.Errorf("ingest: finalize: establish tenant: %w", err))
			continue
		}
		ectx := h.verified(ctx, b.Verified)
		docID := claimedDocument(ev)
		if docID == "" {
			continue
		}
		changed, err := h.Store.For(b.Verified.Scope).FailClaimed(ectx, docID, pgstore.Abandoned{
			Reason: f.FailureReason(), DeadLetterReason: f.Reason, Attempts: f.Attempts,
		})
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("ingest: finalize document: %w", err))
			continue
		}
		if changed {
			h.Metrics.Documents.WithLabelValues("failed").Inc()
			worker.Logger(ectx).Warn("document marked failed: its message is dead-lettered",
				zap.String("document_id", docID), zap.String("reason", f.FailureReason()),
				zap.String("dead_letter_reason", f.Reason), zap.Int("attempts", f.Attempts))
		}
	}
	return errs
}

// claims reports whether handling ev may claim a document (mark it
// `processing`): an upload, or an ingest or reindex job.
func claims(ev event.Event) bool {
	switch ev.Kind {
	case event.KindObjectCreated:
		return ev.Object != nil
	case event.KindJob:
		if ev.Job == nil {
			return false
		}
		a := envelope.Action(ev.Job.Action())
		return a == envelope.ActionIngest || a == envelope.ActionReindex
	}
	return false
}

// claimedDocument is the document id handling ev claims (as the handler
// derives it: the key's second segment, or the reindex job's document).
func claimedDocument(ev event.Event) string {
	key := ""
	switch {
	case ev.Kind == event.KindObjectCreated:
		key = ev.Object.Key
	case envelope.Action(ev.Job.Action()) == envelope.ActionReindex:
		return ev.Job.DocumentID
	default:
		key = ev.Job.Key
	}
	k, err := envelope.ParseObjectKey(key) // the canonical-key rule, as the handler
	if err != nil {
		return ""
	}
	return k.Document
}
