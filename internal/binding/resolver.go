package binding

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
)

// ObjectHeader reads an S3 object's metadata, of its current version or of
// a given one (*objects.Reader does).
type ObjectHeader interface {
	HeadVersion(ctx context.Context, bucket, key, versionID string) (objects.Head, error)
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

// Verified is the gate's verdict: the verified claims and the tenant scope
// they minted. Callers name it through this package, never through
// internal/envelope.
type Verified = envelope.Verified

// Bound is an event whose tenant is established.
type Bound struct {
	// Verified is the envelope's verdict and the tenant scope it minted.
	Verified envelope.Verified
	// Head is the object's metadata for an ObjectCreated event (the
	// envelope was read from it); zero for other events.
	Head objects.Head
	// Key is the object's canonical key, parsed ({tenant}/{document}/
	// {filename}), for an ObjectCreated event or Object; zero otherwise.
	Key envelope.ObjectKey
	// AttributesOnly: the event changes only the attributes of the
	// document whose object Head and Key describe (and whose envelope
	// verified): an event about its metadata sidecar, or about its tags.
	AttributesOnly bool
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
	case event.KindObjectCreated, event.KindObjectRemoved, event.KindObjectTagged:
		switch {
		case objects.IsSidecar(ev.Object.Key) && ev.Kind == event.KindObjectTagged:
			return Bound{}, &Error{Kind: KindIgnored, Code: event.IgnoreUnhandledType} // a sidecar's tags are not attributes
		case objects.IsSidecar(ev.Object.Key):
			return r.sidecar(ctx, ev)
		case ev.Kind == event.KindObjectTagged:
			// The document's own object, bound as for ObjectCreated; only
			// its attributes change.
			b, err := r.created(ctx, ev.Object)
			b.AttributesOnly = true
			return b, err
		}
	}
	switch ev.Kind {
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
	return Bound{}, &Error{Kind: KindIgnored, Code: reason}
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
	return &envelope.Error{Code: envelope.ReasonBindingMismatch, Detail: "job does not match the signed resource"}
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
func (r *Resolver) head(ctx context.Context, bucket, key, versionID string) (objects.Head, error) {
	if len(r.Buckets) > 0 && !slices.Contains(r.Buckets, bucket) {
		return objects.Head{}, &Error{Kind: KindNotServed, Code: ReasonUnknownBucket}
	}
	if r.Objects == nil {
		return objects.Head{}, &Error{Kind: KindUnavailable, Code: ReasonObjectUnavailable, Err: errors.New("no S3 client configured")}
	}
	h, err := r.Objects.HeadVersion(ctx, bucket, key, versionID)
	if err != nil && !errors.Is(err, objects.ErrNotFound) {
		return objects.Head{}, &Error{Kind: KindUnavailable, Code: ReasonObjectUnavailable, Err: err}
	}
	return h, err
}

// signedHead reads an object that must exist and carry an envelope: a gone
// object is KindStale, one without an envelope KindRejected.
func (r *Resolver) signedHead(ctx context.Context, bucket, key, versionID string) (objects.Head, error) {
	h, err := r.head(ctx, bucket, key, versionID)
	if errors.Is(err, objects.ErrNotFound) {
		// Deleted since the event was sent: its removal event cleans up.
		return objects.Head{}, &Error{Kind: KindStale, Code: ReasonObjectUnavailable, Err: err}
	}
	if err != nil {
		return objects.Head{}, err
	}
	if h.Envelope == "" {
		return objects.Head{}, &Error{Kind: KindRejected, Code: ReasonMissingEnvelope, Err: errors.New("object has no tenantry envelope")}
	}
	return h, nil
}

// sidecar establishes the tenant of an S3 event (created or removed) about
// a document's metadata sidecar (objects.SidecarSuffix), whose key Resolve
// found canonical: the document is the sidecar's key less the suffix, a
// canonical key of the same tenant and document, and its object is bound by
// the rules of an ObjectCreated event (Object): the tenant is its
// envelope's, never the sidecar's. Bound.AttributesOnly is set. The
// sidecar of a sidecar is ignored.
func (r *Resolver) sidecar(ctx context.Context, ev event.Event) (Bound, error) {
	docKey := strings.TrimSuffix(ev.Object.Key, objects.SidecarSuffix)
	if objects.IsSidecar(docKey) {
		return Bound{}, &Error{Kind: KindIgnored, Code: event.ReasonUnsupported}
	}
	sk, _ := envelope.ParseObjectKey(ev.Object.Key)
	dk, err := envelope.ParseObjectKey(docKey)
	if err != nil {
		return Bound{}, verifyError(err)
	}
	if dk.Tenant != sk.Tenant || dk.Document != sk.Document {
		return Bound{}, verifyError(&envelope.Error{Code: envelope.ReasonNonCanonicalKey, Detail: "sidecar and document keys differ"})
	}
	b, err := r.Object(ctx, ObjectRequest{Bucket: ev.Object.Bucket, Key: docKey})
	b.AttributesOnly = true
	return b, err
}

func (r *Resolver) created(ctx context.Context, o *event.Object) (Bound, error) {
	return r.Object(ctx, ObjectRequest{Bucket: o.Bucket, Key: o.Key})
}

// ObjectRequest names the object a Step Functions task (or `tenantry sfn
// start|replay`) is about: a version of it, and the envelope its input
// carries, if any.
type ObjectRequest struct {
	Bucket, Key string
	// VersionID pins one version of the object ("": the current one).
	VersionID string
	// Envelope is the envelope the execution input carries ("": none). It
	// never replaces the object's: if set, it must be byte-identical to
	// the x-amz-meta-tenantry-envelope of the object.
	Envelope string
}

// Object establishes the tenant of an object by the rules of an S3
// ObjectCreated event: the key must be canonical (before S3 is asked), the
// bucket served, the object (version) must exist, and its
// x-amz-meta-tenantry-envelope must verify, be bound to bucket and key, and
// authorise ingest. An envelope in req must equal the object's
// (ReasonEnvelopeMismatch otherwise). A missing object is KindStale
// (ReasonObjectUnavailable).
func (r *Resolver) Object(ctx context.Context, req ObjectRequest) (Bound, error) {
	if r == nil || r.Verifier == nil {
		return Bound{}, errors.New("binding: Resolver without a Verifier")
	}
	k, err := envelope.ParseObjectKey(req.Key)
	if err != nil {
		return Bound{}, verifyError(err)
	}
	h, err := r.signedHead(ctx, req.Bucket, req.Key, req.VersionID)
	if err != nil {
		return Bound{}, err
	}
	if req.Envelope != "" && subtle.ConstantTimeCompare([]byte(req.Envelope), []byte(h.Envelope)) != 1 {
		return Bound{}, &Error{Kind: KindRejected, Code: ReasonEnvelopeMismatch, Err: errors.New("the input's envelope is not the object's")}
	}
	v, err := r.Verifier.VerifyObject(ctx, h.Envelope, req.Bucket, req.Key) // an object envelope authorises ingest only
	if err != nil {
		return Bound{}, verifyError(err)
	}
	return Bound{Verified: v, Head: h, Key: k}, nil
}

func (r *Resolver) removed(ctx context.Context, o *event.Object, messageID string) (envelope.Verified, error) {
	// S3 is the authority on removal: the object must really be gone.
	_, err := r.head(ctx, o.Bucket, o.Key, "")
	switch {
	case err == nil:
		return envelope.Verified{}, &Error{Kind: KindStale, Code: ReasonObjectExists}
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
		return &Error{Kind: KindRejected, Code: reason, Err: err}
	}
	return &Error{Kind: KindUnavailable, Code: ReasonKeysUnavailable, Err: err}
}

// canonicalKey refuses an event or ingest job whose object key is not
// canonical (envelope.ParseObjectKey), with the key rule's reason.
func canonicalKey(ev event.Event) error {
	key := ""
	switch {
	case (ev.Kind == event.KindObjectCreated || ev.Kind == event.KindObjectRemoved || ev.Kind == event.KindObjectTagged) && ev.Object != nil:
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

// Search establishes the tenant of a search request: token must verify and
// authorise exactly search. The search API and `tenantry search` call it;
// a failure is an *Error like every other refusal.
func (r *Resolver) Search(ctx context.Context, token string) (envelope.Verified, error) {
	if r == nil || r.Verifier == nil {
		return envelope.Verified{}, errors.New("binding: Resolver without a Verifier")
	}
	v, err := r.Verifier.Verify(ctx, token)
	if err == nil {
		err = v.RequireAction(envelope.ActionSearch)
	}
	if err != nil {
		return envelope.Verified{}, verifyError(err)
	}
	return v, nil
}

// OperatorResource is the resource of an operator envelope: the whole tenant.
const OperatorResource = envelope.ResourcePrefixDoc + "*"

// Operator establishes the tenant of an operator's action (the operator
// console signs one short-lived envelope per action with its own key, which
// the verifier must trust): token must verify, authorise exactly "operate"
// and name the whole tenant. A failure is an *Error like every other refusal.
func (r *Resolver) Operator(ctx context.Context, token string) (envelope.Verified, error) {
	if r == nil || r.Verifier == nil {
		return envelope.Verified{}, errors.New("binding: Resolver without a Verifier")
	}
	v, err := r.Verifier.Verify(ctx, token)
	if err == nil {
		err = v.RequireAction(envelope.ActionOperate)
	}
	if err == nil && v.Claims.Resource != OperatorResource {
		err = errJobBinding()
	}
	if err != nil {
		return envelope.Verified{}, verifyError(err)
	}
	return v, nil
}
