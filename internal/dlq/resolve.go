package dlq

import (
	"context"
	"errors"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/worker"
)

// Resolver establishes a dead-lettered message's tenant: it decodes the
// message and verifies each envelope with its binding, exactly as the worker
// does before processing. It returns one Verified per job or S3 object the
// message is about, all of one tenant, or an error that reports the reason
// it does not verify (outcome.Classify reads it: a rejection, a permanent
// refusal, or a transient failure to judge it now).
type Resolver interface {
	Resolve(ctx context.Context, messageID string, body []byte, attrs map[string]string) ([]envelope.Verified, error)
}

// ObjectHeader reads an S3 object's metadata (*objects.Reader does).
type ObjectHeader = binding.ObjectHeader

// EnvelopeResolver is the Resolver of tenantry's own messages (decoded by
// internal/event). It establishes each event's tenant with the worker's own
// rules (internal/binding, which the worker calls too):
//
//   - a job ({"envelope", "job"} body, or the envelope in the
//     tenantry-envelope attribute): the envelope must verify against the
//     job's raw bytes, sign the job type's action and name exactly the job's
//     document or object;
//   - an S3 ObjectCreated event (direct, SNS-wrapped or EventBridge): the
//     uploaded object's x-amz-meta-tenantry-envelope must verify and be
//     bound to bucket and key;
//   - an S3 ObjectRemoved event: S3 must confirm the object is gone, then
//     the tenant is the key's prefix (envelope.VerifyRemoval, as the
//     worker does).
type EnvelopeResolver struct {
	// Verifier checks envelopes. Required.
	Verifier *envelope.Verifier
	// Objects reads S3 object metadata. Without it, S3 event messages are
	// unverified (object_unavailable).
	Objects ObjectHeader
	// Buckets, if set, are the only buckets whose events are accepted (the
	// worker's own allowlist); others are unverified (unknown_bucket).
	Buckets []string
	// Decoder decodes bodies (default: internal/event's default limits).
	Decoder *event.Decoder
}

// Resolve implements Resolver.
func (r *EnvelopeResolver) Resolve(ctx context.Context, messageID string, body []byte, attrs map[string]string) ([]envelope.Verified, error) {
	if r == nil || r.Verifier == nil {
		return nil, errors.New("dlq: EnvelopeResolver without a Verifier")
	}
	decode := event.Decode
	if r.Decoder != nil {
		decode = r.Decoder.Decode
	}
	evs, err := decode(body, attrs)
	if err != nil {
		reason := event.ReasonOf(err)
		if reason == "" {
			reason = event.ReasonMalformed
		}
		return nil, worker.Permanent(err, reason)
	}
	out := make([]envelope.Verified, 0, len(evs))
	br := &binding.Resolver{Verifier: r.Verifier, Objects: r.Objects, Buckets: r.Buckets}
	for _, ev := range evs {
		b, err := br.Resolve(ctx, ev, messageID)
		if err != nil {
			return nil, unverified(ctx, err)
		}
		v := b.Verified
		if len(out) > 0 && out[0].Claims.TenantID != v.Claims.TenantID {
			return nil, worker.Permanent(errors.New("dlq: one message holds events of several tenants"), ReasonMixedTenants)
		}
		out = append(out, v)
	}
	return out, nil
}

// unverified is the gate's failure (a *binding.Error with its reason); a
// failure to judge the envelope while ctx is done is ctx's error.
func unverified(ctx context.Context, err error) error {
	var be *binding.Error
	if errors.As(err, &be) && be.Kind == binding.KindUnavailable && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
