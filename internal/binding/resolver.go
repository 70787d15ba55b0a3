package binding

import (
	"context"
	"errors"
	"slices"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
)

// ObjectHeader reads an S3 object's metadata (*objects.Reader does).
type ObjectHeader interface {
	Head(ctx context.Context, bucket, key string) (objects.Head, error)
}

var _ ObjectHeader = (*objects.Reader)(nil)

// Resolver applies the binding rules (see the package documentation). It is
// safe for concurrent use if its Verifier and Objects are.
type Resolver struct {
	// Verifier checks envelopes. Required.
	Verifier *envelope.Verifier
	// Objects reads S3 object metadata. Without it, S3 events are
	// KindUnavailable (ReasonObjectUnavailable).
	Objects ObjectHeader
	// Buckets, if set, are the only buckets whose S3 events are served;
	// others are KindNotServed (ReasonUnknownBucket). Jobs are bound by
	// their envelope alone.
	Buckets []string
}

// Bound is an event whose tenant is established.
type Bound struct {
	// Verified is the envelope's verdict and the tenant scope it minted.
	Verified envelope.Verified
	// Head is the object's metadata for an ObjectCreated event (the
	// envelope was read from it); zero for other events.
	Head objects.Head
}

// Resolve establishes ev's tenant. messageID is the SQS message id (the
// job id of a removal's scope). Every failure about the event is an *Error;
// any other error means the Resolver is misconfigured.
func (r *Resolver) Resolve(ctx context.Context, ev event.Event, messageID string) (Bound, error) {
	if r == nil || r.Verifier == nil {
		return Bound{}, errors.New("binding: Resolver without a Verifier")
	}
	// A key means something only when it is canonical: judged before any
	// envelope is read and before S3 is asked about it (a server that
	// resolves "a/../b" would answer for another tenant's object).
	if err := canonicalKey(ev); err != nil {
		return Bound{}, err
	}
	switch ev.Kind {
	case event.KindJob:
		v, err := r.job(ctx, ev.Job)
		return Bound{Verified: v}, err
	case event.KindObjectCreated:
		return r.created(ctx, ev.Object)
	case event.KindObjectRemoved:
		v, err := r.removed(ctx, ev.Object, messageID)
		return Bound{Verified: v}, err
	}
	reason := ev.Ignore
	if reason == "" {
		reason = event.ReasonUnsupported
	}
	return Bound{}, &Error{Kind: KindIgnored, Reason: reason}
}

func (r *Resolver) job(ctx context.Context, j *event.Job) (envelope.Verified, error) {
	v, err := r.Verifier.VerifyJob(ctx, j.Envelope, j.Raw)
	if err == nil {
		err = v.RequireAction(envelope.Action(j.Action()))
	}
	if err == nil {
		err = checkJob(v, j)
	}
	if err != nil {
		return envelope.Verified{}, verifyError(err)
	}
	return v, nil
}

// errJobBinding is a job whose fields do not match what the envelope signed.
func errJobBinding() error {
	return &envelope.Error{Reason: envelope.ReasonBindingMismatch, Detail: "job does not match the signed resource"}
}

// checkJob: the signed resource is exactly the job's object (its key under
// the tenant's prefix) or document. Purge jobs name no resource.
func checkJob(v envelope.Verified, j *event.Job) error {
	switch envelope.Action(j.Action()) {
	case envelope.ActionIngest:
		k, err := envelope.ParseObjectKey(j.Key)
		if err != nil {
			return err
		}
		if v.Claims.Resource != envelope.ObjectResource(j.Bucket, j.Key) || k.Tenant != v.Claims.TenantID {
			return errJobBinding()
		}
	case envelope.ActionReindex, envelope.ActionDelete:
		if j.DocumentID == "" || v.Claims.Resource != envelope.DocumentResource(j.DocumentID) {
			return errJobBinding()
		}
	}
	return nil
}

// head reads the object an S3 event is about, if its bucket is served. A
// missing object is returned as the objects.ErrNotFound error, for the
// caller to judge; any other failure is an *Error.
func (r *Resolver) head(ctx context.Context, o *event.Object) (objects.Head, error) {
	if len(r.Buckets) > 0 && !slices.Contains(r.Buckets, o.Bucket) {
		return objects.Head{}, &Error{Kind: KindNotServed, Reason: ReasonUnknownBucket}
	}
	if r.Objects == nil {
		return objects.Head{}, &Error{Kind: KindUnavailable, Reason: ReasonObjectUnavailable, Err: errors.New("no S3 client configured")}
	}
	h, err := r.Objects.Head(ctx, o.Bucket, o.Key)
	if err != nil && !errors.Is(err, objects.ErrNotFound) {
		return objects.Head{}, &Error{Kind: KindUnavailable, Reason: ReasonObjectUnavailable, Err: err}
	}
	return h, err
}

// signedHead reads an object that must exist and carry an envelope: a gone
// object is KindStale, one without an envelope KindRejected.
func (r *Resolver) signedHead(ctx context.Context, o *event.Object) (objects.Head, error) {
	h, err := r.head(ctx, o)
	if errors.Is(err, objects.ErrNotFound) {
		// Deleted since the event was sent: its removal event cleans up.
		return objects.Head{}, &Error{Kind: KindStale, Reason: ReasonObjectUnavailable, Err: err}
	}
	if err != nil {
		return objects.Head{}, err
	}
	if h.Envelope == "" {
		return objects.Head{}, &Error{Kind: KindRejected, Reason: ReasonMissingEnvelope, Err: errors.New("object has no tenantry envelope")}
	}
	return h, nil
}

func (r *Resolver) created(ctx context.Context, o *event.Object) (Bound, error) {
	h, err := r.signedHead(ctx, o)
	if err != nil {
		return Bound{}, err
	}
	v, err := r.Verifier.VerifyObject(ctx, h.Envelope, o.Bucket, o.Key) // an object envelope authorises ingest only
	if err != nil {
		return Bound{}, verifyError(err)
	}
	return Bound{Verified: v, Head: h}, nil
}

func (r *Resolver) removed(ctx context.Context, o *event.Object, messageID string) (envelope.Verified, error) {
	// S3 is the authority on removal: the object must really be gone.
	_, err := r.head(ctx, o)
	switch {
	case err == nil:
		return envelope.Verified{}, &Error{Kind: KindStale, Reason: ReasonObjectExists}
	case !errors.Is(err, objects.ErrNotFound):
		return envelope.Verified{}, err
	}
	v, err := envelope.VerifyRemoval(o.Bucket, o.Key, messageID)
	if err != nil {
		return envelope.Verified{}, verifyError(err)
	}
	return v, nil
}

// verifyError classifies a verification error: a rejection has a reason;
// anything else (envelope.ErrKeysUnavailable, a context error) is not a
// verdict.
func verifyError(err error) error {
	if reason := envelope.ReasonOf(err); reason != "" {
		return &Error{Kind: KindRejected, Reason: reason, Err: err}
	}
	return &Error{Kind: KindUnavailable, Reason: ReasonKeysUnavailable, Err: err}
}

// canonicalKey refuses an event or ingest job whose object key is not
// canonical (envelope.ParseObjectKey), with the key rule's reason.
func canonicalKey(ev event.Event) error {
	key := ""
	switch {
	case (ev.Kind == event.KindObjectCreated || ev.Kind == event.KindObjectRemoved) && ev.Object != nil:
		key = ev.Object.Key
	case ev.Kind == event.KindJob && ev.Job != nil && envelope.Action(ev.Job.Action()) == envelope.ActionIngest:
		key = ev.Job.Key
	default:
		return nil
	}
	if err := envelope.CheckObjectKey(key); err != nil {
		return verifyError(err)
	}
	return nil
}
