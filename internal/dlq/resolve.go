package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
)

// Resolver establishes a dead-lettered message's tenant: it decodes the
// message and verifies each envelope with its binding, exactly as the worker
// does before processing. It returns one Verified per job or S3 object the
// message is about, all of one tenant, or an error (an *UnverifiedError for a
// message that does not verify).
type Resolver interface {
	Resolve(ctx context.Context, messageID string, body []byte, attrs map[string]string) ([]envelope.Verified, error)
}

// ObjectHeader reads an S3 object's metadata (*objects.Reader does).
type ObjectHeader interface {
	Head(ctx context.Context, bucket, key string) (objects.Head, error)
}

var _ ObjectHeader = (*objects.Reader)(nil)

// EnvelopeResolver is the Resolver of tenantry's own messages (decoded by
// internal/event):
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
		return nil, &UnverifiedError{Reason: reason, Err: err}
	}
	out := make([]envelope.Verified, 0, len(evs))
	for _, ev := range evs {
		var (
			v   envelope.Verified
			err error
		)
		switch ev.Kind {
		case event.KindJob:
			v, err = r.job(ctx, ev.Job)
		case event.KindObjectCreated:
			v, err = r.created(ctx, ev.Object)
		case event.KindObjectRemoved:
			v, err = r.removed(ctx, ev.Object, messageID)
		default:
			err = &UnverifiedError{Reason: ev.Ignore}
			if ev.Ignore == "" {
				err = &UnverifiedError{Reason: event.ReasonUnsupported}
			}
		}
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && out[0].Claims.TenantID != v.Claims.TenantID {
			return nil, &UnverifiedError{Reason: ReasonMixedTenants}
		}
		out = append(out, v)
	}
	return out, nil
}

func (r *EnvelopeResolver) job(ctx context.Context, j *event.Job) (envelope.Verified, error) {
	v, err := r.Verifier.VerifyJob(ctx, j.Envelope, j.Raw)
	if err == nil {
		err = v.RequireAction(envelope.Action(j.Action()))
	}
	if err == nil {
		err = checkJobBinding(v, j)
	}
	if err != nil {
		return envelope.Verified{}, verifyError(ctx, err)
	}
	return v, nil
}

// checkJobBinding applies the worker's rule: the signed resource is exactly
// the job's object (under the tenant's prefix) or document.
func checkJobBinding(v envelope.Verified, j *event.Job) error {
	mismatch := &envelope.Error{Reason: envelope.ReasonBindingMismatch, Detail: "job does not match the signed resource"}
	switch envelope.Action(j.Action()) {
	case envelope.ActionIngest:
		if v.Claims.Resource != envelope.ObjectResource(j.Bucket, j.Key) || !strings.HasPrefix(j.Key, v.Claims.TenantID.String()+"/") {
			return mismatch
		}
	case envelope.ActionReindex, envelope.ActionDelete:
		if j.DocumentID == "" || v.Claims.Resource != envelope.DocumentResource(j.DocumentID) {
			return mismatch
		}
	}
	return nil
}

func (r *EnvelopeResolver) head(ctx context.Context, o *event.Object) (objects.Head, error) {
	if len(r.Buckets) > 0 && !slices.Contains(r.Buckets, o.Bucket) {
		return objects.Head{}, &UnverifiedError{Reason: ReasonUnknownBucket}
	}
	if r.Objects == nil {
		return objects.Head{}, &UnverifiedError{Reason: ReasonObjectUnavailable, Temporary: true, Err: errors.New("no S3 client configured")}
	}
	h, err := r.Objects.Head(ctx, o.Bucket, o.Key)
	switch {
	case err == nil:
		return h, nil
	case ctx.Err() != nil:
		return objects.Head{}, ctx.Err()
	case errors.Is(err, objects.ErrNotFound):
		return objects.Head{}, err
	}
	return objects.Head{}, &UnverifiedError{Reason: ReasonObjectUnavailable, Temporary: true, Err: fmt.Errorf("head object: %w", err)}
}

func (r *EnvelopeResolver) created(ctx context.Context, o *event.Object) (envelope.Verified, error) {
	h, err := r.head(ctx, o)
	if errors.Is(err, objects.ErrNotFound) {
		// Gone since: the worker acks such an event (its removal event
		// cleans up); nothing to replay.
		return envelope.Verified{}, &UnverifiedError{Reason: ReasonObjectUnavailable, Err: errors.New("object not found")}
	}
	if err != nil {
		return envelope.Verified{}, err
	}
	if h.Envelope == "" {
		return envelope.Verified{}, &UnverifiedError{Reason: ReasonNoEnvelope}
	}
	v, err := r.Verifier.VerifyObject(ctx, h.Envelope, o.Bucket, o.Key)
	if err == nil {
		err = v.RequireAction(envelope.ActionIngest)
	}
	if err != nil {
		return envelope.Verified{}, verifyError(ctx, err)
	}
	return v, nil
}

func (r *EnvelopeResolver) removed(ctx context.Context, o *event.Object, messageID string) (envelope.Verified, error) {
	_, err := r.head(ctx, o)
	switch {
	case err == nil:
		// The object exists (again): the worker ignores such a removal.
		return envelope.Verified{}, &UnverifiedError{Reason: ReasonObjectExists}
	case !errors.Is(err, objects.ErrNotFound):
		return envelope.Verified{}, err
	}
	v, err := envelope.VerifyRemoval(o.Bucket, o.Key, messageID)
	if err != nil {
		return envelope.Verified{}, verifyError(ctx, err)
	}
	return v, nil
}

// verifyError classifies a Verifier error.
func verifyError(ctx context.Context, err error) error {
	if r := envelope.ReasonOf(err); r != "" {
		return &UnverifiedError{Reason: r, Err: err}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// ErrKeysUnavailable (or anything else that is not a judgement).
	return &UnverifiedError{Reason: ReasonKeysUnavailable, Temporary: true, Err: err}
}
