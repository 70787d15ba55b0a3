package binding_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/binding/bindingtest"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
)

const (
	bucket = "tenantry-docs"
	other  = "other-bucket"
)

func created(b, key string) event.Event {
	return event.Event{Kind: event.KindObjectCreated, Shape: event.ShapeS3, Object: &event.Object{Bucket: b, Key: key, EventName: "ObjectCreated:Put"}}
}

func tagged(b, key string) event.Event {
	return event.Event{Kind: event.KindObjectTagged, Shape: event.ShapeS3, Object: &event.Object{Bucket: b, Key: key, EventName: "ObjectTagging:Put"}}
}

func removed(b, key string) event.Event {
	return event.Event{Kind: event.KindObjectRemoved, Shape: event.ShapeS3, Object: &event.Object{Bucket: b, Key: key, EventName: "ObjectRemoved:Delete"}}
}

// job decodes a {"envelope", "job"} message with the real decoder, so the
// job's Raw bytes are exactly what a producer sent.
func job(t testing.TB, token, body string) event.Event {
	t.Helper()
	tok, _ := json.Marshal(token)
	evs, err := event.Decode([]byte(`{"envelope":`+string(tok)+`,"job":`+body+`}`), nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("decode job: %d events, %v", len(evs), err)
	}
	return evs[0]
}

type resolveCase struct {
	name    string
	ev      event.Event
	objs    map[string]string // bucket/key -> envelope on the fake object
	s3err   error             // every HeadObject fails with it
	noS3    bool              // Resolver without Objects
	buckets []string          // the allowlist (default: bucket)
	open    bool              // no allowlist at all
	heads   int               // HeadObject calls wanted

	tenant uuid.UUID // want bound to this tenant (uuid.Nil: want an *Error)
	action envelope.Action
	kind   binding.Kind
	reason string
}

func resolveCases(t testing.TB, kit *envelopetest.Kit) []resolveCase {
	a, b := uuid.New(), uuid.New()
	keyA := a.String() + "/doc-1/report é+1.pdf"
	keyA2 := a.String() + "/doc-2/b.txt"
	keyB := b.String() + "/doc-3/c.txt"
	objA, objA2, objB := kit.Object(t, a, bucket, keyA), kit.Object(t, a, bucket, keyA2), kit.Object(t, b, bucket, keyB)
	objAOther := kit.Object(t, a, other, keyA)
	deleteObj := kit.ObjectClaims(a, bucket, keyA)
	deleteObj.Action = envelope.ActionDelete

	reindex := `{"type":"reindex","document_id":"doc-1"}`
	reindexTok := kit.Job(t, a, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(reindex))
	ingest := `{"type":"ingest","bucket":"` + bucket + `","key":"` + keyA + `"}`
	ingestB := `{"type":"ingest","bucket":"` + bucket + `","key":"` + keyB + `"}`
	del := `{"type":"delete","document_id":"doc-1"}`
	delByKey := `{"type":"delete","bucket":"` + bucket + `","key":"` + keyA + `"}`
	purge := `{"type":"purge_tenant"}`
	expired := kit.JobClaims(a, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(reindex))
	expired.IssuedAt, expired.NotBefore, expired.Expiry = expired.IssuedAt.Add(-3*3600e9), expired.IssuedAt.Add(-3*3600e9), expired.IssuedAt.Add(-2*3600e9)

	travKey := a.String() + "/../" + b.String() + "/doc-3/c.txt"
	trav2Key := a.String() + "/x/../../" + b.String() + "/doc-3/c.txt"
	ingestTrav := `{"type":"ingest","bucket":"` + bucket + `","key":"` + travKey + `"}`

	at := func(b, key, tok string) map[string]string { return map[string]string{b + "/" + key: tok} }
	return []resolveCase{
		// Bound.
		{name: "reindex job", ev: job(t, reindexTok, reindex), tenant: a, action: envelope.ActionReindex},
		{name: "ingest job", ev: job(t, kit.Job(t, a, envelope.ActionIngest, envelope.ObjectResource(bucket, keyA), []byte(ingest)), ingest),
			tenant: a, action: envelope.ActionIngest},
		{name: "delete job", ev: job(t, kit.Job(t, a, envelope.ActionDelete, envelope.DocumentResource("doc-1"), []byte(del)), del),
			tenant: a, action: envelope.ActionDelete},
		{name: "purge job", ev: job(t, kit.Job(t, b, envelope.ActionPurge, "doc:all", []byte(purge)), purge), tenant: b, action: envelope.ActionPurge},
		{name: "created", ev: created(bucket, keyA), objs: at(bucket, keyA, objA), heads: 1, tenant: a, action: envelope.ActionIngest},
		{name: "created, no allowlist", ev: created(other, keyA), objs: at(other, keyA, objAOther), open: true, heads: 1, tenant: a, action: envelope.ActionIngest},
		{name: "created, second allowed bucket", ev: created(other, keyA), objs: at(other, keyA, objAOther), buckets: []string{bucket, other},
			heads: 1, tenant: a, action: envelope.ActionIngest},
		{name: "removed, object gone", ev: removed(bucket, keyB), heads: 1, tenant: b, action: envelope.ActionDelete},

		// Jobs whose envelope is not bound to them.
		{name: "expired job", ev: job(t, kit.Sign(t, expired), reindex), kind: binding.KindRejected, reason: "expired"},
		{name: "job body swapped", ev: job(t, reindexTok, `{"type":"reindex","document_id":"doc-2"}`), kind: binding.KindRejected, reason: "body_hash_mismatch"},
		{name: "job signed for another document", ev: job(t, kit.Job(t, a, envelope.ActionReindex, "doc:doc-9", []byte(reindex)), reindex),
			kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "delete job signed for another document", ev: job(t, kit.Job(t, a, envelope.ActionDelete, "doc:doc-9", []byte(del)), del),
			kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "delete job by object key", ev: job(t, kit.Job(t, a, envelope.ActionDelete, envelope.ObjectResource(bucket, keyA), []byte(delByKey)), delByKey),
			kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "job type not the signed action", ev: job(t, kit.Job(t, a, envelope.ActionDelete, "doc:doc-1", []byte(reindex)), reindex),
			kind: binding.KindRejected, reason: "wrong_action"},
		{name: "ingest job signed for another object", ev: job(t, kit.Job(t, a, envelope.ActionIngest, envelope.ObjectResource(bucket, keyA2), []byte(ingest)), ingest),
			kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "ingest job for another tenant's key", ev: job(t, kit.Job(t, a, envelope.ActionIngest, envelope.ObjectResource(bucket, keyB), []byte(ingestB)), ingestB),
			kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "job signed by a stranger", ev: job(t, kit.SignWith(t, kit.Stranger, kit.JobClaims(a, envelope.ActionReindex, "doc:doc-1", []byte(reindex))), reindex),
			kind: binding.KindRejected, reason: "unknown_key"},

		// S3 events.
		{name: "created, unknown bucket", ev: created(other, keyA), objs: at(other, keyA, objAOther), kind: binding.KindNotServed, reason: "unknown_bucket"},
		{name: "removed, unknown bucket", ev: removed(other, keyB), kind: binding.KindNotServed, reason: "unknown_bucket"},
		{name: "created, object without envelope", ev: created(bucket, keyA), objs: at(bucket, keyA, ""), heads: 1, kind: binding.KindRejected, reason: "missing_envelope"},
		{name: "created, another object's envelope", ev: created(bucket, keyA), objs: at(bucket, keyA, objA2), heads: 1, kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "created, another tenant's envelope", ev: created(bucket, keyA), objs: at(bucket, keyA, objB), heads: 1, kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "created, another bucket's envelope", ev: created(bucket, keyA), objs: at(bucket, keyA, objAOther), heads: 1, kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "created, envelope for another tenant's key", ev: created(bucket, keyB), objs: at(bucket, keyB, kit.Object(t, a, bucket, keyB)), heads: 1,
			kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "created, envelope not for ingest", ev: created(bucket, keyA), objs: at(bucket, keyA, kit.Sign(t, deleteObj)), heads: 1,
			kind: binding.KindRejected, reason: "wrong_action"},
		{name: "created, object gone", ev: created(bucket, keyA), heads: 1, kind: binding.KindStale, reason: "object_unavailable"},
		{name: "created, S3 unreachable", ev: created(bucket, keyA), s3err: errors.New("connection refused"), heads: 1, kind: binding.KindUnavailable, reason: "object_unavailable"},
		{name: "created, no S3 client", ev: created(bucket, keyA), noS3: true, kind: binding.KindUnavailable, reason: "object_unavailable"},
		{name: "removed, object exists", ev: removed(bucket, keyB), objs: at(bucket, keyB, objB), heads: 1, kind: binding.KindStale, reason: "object_exists"},
		{name: "removed, object exists without envelope", ev: removed(bucket, keyB), objs: at(bucket, keyB, ""), heads: 1, kind: binding.KindStale, reason: "object_exists"},
		{name: "removed, key not under a tenant", ev: removed(bucket, "shared/doc/x.txt"), kind: binding.KindRejected, reason: "bad_tenant"},
		{name: "removed, key without a prefix", ev: removed(bucket, "x.txt"), kind: binding.KindRejected, reason: "noncanonical_key"},

		// Non-canonical keys: refused before S3 is asked and before any
		// envelope is read, whatever the object or the job carries.
		{name: "created, ../ into another tenant", ev: created(bucket, travKey), objs: at(bucket, travKey, objB), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "created, ../../ into another tenant", ev: created(bucket, trav2Key), objs: at(bucket, trav2Key, objB), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "created, backslash", ev: created(bucket, a.String()+"/doc-1/..\\x"), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "created, four segments", ev: created(bucket, a.String()+"/doc-1/sub/x"), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "created, %2F in the decoded key", ev: created(bucket, a.String()+"/doc-1%2F..%2F/x"), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "removed, ../ into another tenant", ev: removed(bucket, travKey), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "ingest job, ../ into another tenant", ev: job(t, kit.Job(t, a, envelope.ActionIngest, "doc:x", []byte(ingestTrav)), ingestTrav),
			kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "removed, S3 unreachable", ev: removed(bucket, keyB), s3err: errors.New("connection refused"), heads: 1, kind: binding.KindUnavailable, reason: "object_unavailable"},
		{name: "removed, no S3 client", ev: removed(bucket, keyB), noS3: true, kind: binding.KindUnavailable, reason: "object_unavailable"},

		// Metadata sidecars: bound as their document's object, never by
		// themselves (they carry no envelope).
		{name: "sidecar of a document signed for another tenant", ev: created(bucket, keyB+objects.SidecarSuffix),
			objs: at(bucket, keyB, kit.Object(t, a, bucket, keyB)), heads: 1, kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "sidecar removed, document without envelope", ev: removed(bucket, keyB+objects.SidecarSuffix), objs: at(bucket, keyB, ""),
			heads: 1, kind: binding.KindRejected, reason: "missing_envelope"},
		{name: "sidecar, document gone", ev: created(bucket, keyB+objects.SidecarSuffix), heads: 1, kind: binding.KindStale, reason: "object_unavailable"},
		{name: "sidecar, ../ into another tenant", ev: created(bucket, travKey+objects.SidecarSuffix), objs: at(bucket, keyB, objB),
			kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "sidecar removed, four segments", ev: removed(bucket, a.String()+"/doc-1/sub/x"+objects.SidecarSuffix), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "sidecar of a sidecar", ev: created(bucket, keyB+objects.SidecarSuffix+objects.SidecarSuffix), objs: at(bucket, keyB+objects.SidecarSuffix, objB),
			kind: binding.KindIgnored, reason: event.ReasonUnsupported},
		{name: "bare sidecar name", ev: created(bucket, b.String()+"/doc-3"+"/"+objects.SidecarSuffix), kind: binding.KindRejected, reason: "noncanonical_key"},

		// Tag changes: bound as the object's ObjectCreated.
		{name: "tagged, another tenant's envelope", ev: tagged(bucket, keyA), objs: at(bucket, keyA, objB), heads: 1, kind: binding.KindRejected, reason: "binding_mismatch"},
		{name: "tagged, no envelope", ev: tagged(bucket, keyA), objs: at(bucket, keyA, ""), heads: 1, kind: binding.KindRejected, reason: "missing_envelope"},
		{name: "tagged, ../ into another tenant", ev: tagged(bucket, travKey), objs: at(bucket, travKey, objB), kind: binding.KindRejected, reason: "noncanonical_key"},
		{name: "tagged sidecar", ev: tagged(bucket, keyB+objects.SidecarSuffix), kind: binding.KindIgnored, reason: event.IgnoreUnhandledType},

		// Events that need no tenant.
		{name: "S3 test event", ev: event.Event{Kind: event.KindIgnore, Ignore: event.IgnoreTestEvent}, kind: binding.KindIgnored, reason: event.IgnoreTestEvent},
		{name: "unknown kind", ev: event.Event{}, kind: binding.KindIgnored, reason: event.ReasonUnsupported},
	}
}

// A sidecar's created or removed event, and a tag change of the document,
// bind the document's object: its envelope, tenant and key, one HEAD of the
// document; only its attributes are to change.
func TestResolveAttributesOnly(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	a := uuid.New()
	doc := a.String() + "/doc-1/report.pdf"
	for _, ev := range []event.Event{created(bucket, doc+objects.SidecarSuffix), removed(bucket, doc+objects.SidecarSuffix), tagged(bucket, doc)} {
		objs := bindingtest.NewObjects(map[string]string{bucket + "/" + doc: kit.Object(t, a, bucket, doc)}, nil)
		r := &binding.Resolver{Verifier: kit.Verifier(t), Objects: objs, Buckets: []string{bucket}}
		got, err := r.Resolve(context.Background(), ev, "m-1")
		if err != nil {
			t.Fatalf("%s: %v", ev.Kind, err)
		}
		if !got.AttributesOnly || got.Key.String() != doc || got.Head.Key != doc || got.Verified.Scope.TenantID() != a || objs.Calls() != 1 {
			t.Fatalf("%s: sidecar %v key %q head %q tenant %s, %d HEADs", ev.Kind, got.AttributesOnly, got.Key, got.Head.Key, got.Verified.Scope.TenantID(), objs.Calls())
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	for _, tc := range resolveCases(t, kit) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := bindingtest.NewObjects(tc.objs, tc.s3err)
			r := &binding.Resolver{Verifier: kit.Verifier(t), Objects: objs, Buckets: []string{bucket}}
			if tc.buckets != nil {
				r.Buckets = tc.buckets
			}
			if tc.open {
				r.Buckets = nil
			}
			if tc.noS3 {
				r.Objects = nil
			}
			got, err := r.Resolve(context.Background(), tc.ev, "m-1")
			if n := objs.Calls(); n != tc.heads {
				t.Errorf("%d HeadObject calls, want %d", n, tc.heads)
			}
			if tc.tenant != uuid.Nil {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				v := got.Verified
				if v.Scope.TenantID() != tc.tenant || v.Claims.TenantID != tc.tenant || v.Claims.Action != tc.action {
					t.Errorf("bound to %s (%s), want %s (%s)", v.Scope.TenantID(), v.Claims.Action, tc.tenant, tc.action)
				}
				if o := tc.ev.Object; tc.ev.Kind == event.KindObjectCreated {
					if got.Head.Envelope == "" || got.Head.Key != o.Key || v.Claims.Resource != envelope.ObjectResource(o.Bucket, o.Key) {
						t.Errorf("created: head %+v, resource %q", got.Head, v.Claims.Resource)
					}
				} else if !reflect.DeepEqual(got.Head, objects.Head{}) {
					t.Errorf("head %+v for a %s event", got.Head, tc.ev.Kind)
				}
				return
			}
			var be *binding.Error
			if !errors.As(err, &be) {
				t.Fatalf("Resolve = %+v, %v; want a *binding.Error", got.Verified.Claims, err)
			}
			if be.Kind != tc.kind || be.Reason() != tc.reason {
				t.Errorf("%s (%s), want %s (%s): %v", be.Kind, be.Reason(), tc.kind, tc.reason, err)
			}
			if !got.Verified.Scope.IsZero() || !reflect.DeepEqual(got.Head, objects.Head{}) {
				t.Errorf("a failure returned a scope or a head: %+v", got)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error carries a token: %v", err)
			}
			if tc.kind == binding.KindRejected && envelope.ReasonOf(err) != tc.reason && tc.reason != binding.ReasonMissingEnvelope {
				t.Errorf("rejection %v does not carry its envelope.Error", err)
			}
		})
	}
}

// TestResolveHostileEnvelopes presents the envelope attack catalogue as the
// uploaded object's metadata behind an ObjectCreated event and as job
// envelopes: none binds, each with the catalogue's reason.
func TestResolveHostileEnvelopes(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	tenant := uuid.New()
	const body = `{"type":"reindex","document_id":"doc-1"}`
	target := envelopetest.Target{Tenant: tenant, Bucket: bucket, Key: tenant.String() + "/doc-1/file.txt", Body: []byte(body)}
	for _, c := range kit.Hostile(t, target) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			objs := bindingtest.NewObjects(nil, nil)
			objs.Put(c.Bucket, c.Key, c.Token)
			r := &binding.Resolver{Verifier: kit.Verifier(t), Objects: objs, Buckets: []string{bucket}}
			ev := created(c.Bucket, c.Key)
			if c.Binding == envelopetest.BindJob {
				ev = event.Event{Kind: event.KindJob, Job: &event.Job{Type: event.JobReindex, DocumentID: "doc-1", Envelope: c.Token, Raw: c.Body}}
			}
			got, err := r.Resolve(context.Background(), ev, "m-1")
			var be *binding.Error
			if !errors.As(err, &be) || !got.Verified.Scope.IsZero() {
				t.Fatalf("hostile envelope: bound to %v, %v", got.Verified.Claims.TenantID, err)
			}
			want := string(c.Reason)
			if c.Token == "" && c.Binding == envelopetest.BindObject {
				want = binding.ReasonMissingEnvelope // an empty object envelope is none
			}
			if be.Kind != binding.KindRejected || be.Reason() != want {
				t.Errorf("%s (%s), want rejected (%s)", be.Kind, be.Reason(), want)
			}
		})
	}
	// The catalogue's target itself binds: the cases above fail for their
	// own reason, not for the harness's.
	objs := bindingtest.NewObjects(nil, nil)
	objs.Put(bucket, target.Key, kit.Object(t, tenant, bucket, target.Key))
	r := &binding.Resolver{Verifier: kit.Verifier(t), Objects: objs, Buckets: []string{bucket}}
	if _, err := r.Resolve(context.Background(), created(bucket, target.Key), "m-1"); err != nil {
		t.Fatalf("valid object envelope: %v", err)
	}
	tok := kit.Job(t, tenant, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(body))
	if _, err := r.Resolve(context.Background(), job(t, tok, body), "m-1"); err != nil {
		t.Fatalf("valid job envelope: %v", err)
	}
}

// TestResolveNotJudged: a key source outage or a done context is not a
// verdict on the envelope.
func TestResolveNotJudged(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	tenant := uuid.New()
	key := tenant.String() + "/doc-1/a.txt"
	const body = `{"type":"reindex","document_id":"doc-1"}`
	jobEv := job(t, kit.Job(t, tenant, envelope.ActionReindex, "doc:doc-1", []byte(body)), body)
	objs := bindingtest.NewObjects(nil, nil)
	objs.Put(bucket, key, kit.Object(t, tenant, bucket, key))

	cfg := kit.Config()
	cfg.Keys = downKeys{}
	down, err := envelope.NewVerifier(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		verifier *envelope.Verifier
		ev       event.Event
		cause    error
	}{
		{"job, keys down", context.Background(), down, jobEv, envelope.ErrKeysUnavailable},
		{"created, keys down", context.Background(), down, created(bucket, key), envelope.ErrKeysUnavailable},
		{"job, context cancelled", cancelled, kit.Verifier(t), jobEv, context.Canceled},
		{"created, context cancelled", cancelled, kit.Verifier(t), created(bucket, key), context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &binding.Resolver{Verifier: tc.verifier, Objects: objs}
			_, err := r.Resolve(tc.ctx, tc.ev, "m-1")
			var be *binding.Error
			if !errors.As(err, &be) || be.Kind != binding.KindUnavailable || be.Reason() != binding.ReasonKeysUnavailable || !errors.Is(err, tc.cause) {
				t.Fatalf("Resolve: %v; want unavailable (keys_unavailable) caused by %v", err, tc.cause)
			}
		})
	}
}

type downKeys struct{}

func (downKeys) PublicKey(context.Context, string) (envelope.PublicKey, error) {
	return envelope.PublicKey{}, errors.New("JWKS endpoint down")
}

func TestResolveWithoutVerifier(t *testing.T) {
	t.Parallel()
	_, err := (&binding.Resolver{}).Resolve(context.Background(), removed(bucket, uuid.NewString()+"/d/x"), "m-1")
	var be *binding.Error
	if err == nil || errors.As(err, &be) {
		t.Fatalf("Resolve without a Verifier: %v; want a plain configuration error", err)
	}
}
