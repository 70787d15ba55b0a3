package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/binding/bindingtest"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/worker"
)

const bucket = "tenantry-docs"

func s3Record(name, b, key string) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-23T10:00:00.000Z","eventName":%q,"s3":{"bucket":{"name":%q},"object":{"key":%q,"size":5,"sequencer":"0A1B"}}}`,
		name, b, event.EncodeKey(key))
}

// s3Event is a direct S3 notification for keys.
func s3Event(name string, keys ...string) string {
	recs := make([]string, len(keys))
	for i, k := range keys {
		recs[i] = s3Record(name, bucket, k)
	}
	return `{"Records":[` + strings.Join(recs, ",") + `]}`
}

func snsEvent(inner string) string {
	m, _ := json.Marshal(inner)
	return `{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:000000000000:t","Message":` + string(m) + `}`
}

func eventBridgeEvent(detailType, key string) string {
	return fmt.Sprintf(`{"version":"0","id":"e","detail-type":%q,"source":"aws.s3","account":"000000000000","time":"2026-11-23T10:00:00Z","region":"us-east-1","resources":[],"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":5,"sequencer":"0A1B"},"reason":"PutObject"}}`,
		detailType, bucket, event.EncodeKey(key))
}

type resolveCase struct {
	name   string
	body   string
	attrs  map[string]string
	objs   map[string]string // bucket/key -> envelope on the fake object
	s3err  error
	tenant uuid.UUID // want verified as this tenant (uuid.Nil: want unverified)
	count  int       // verified entries (default 1)
	reason string    // want unverified with this reason
	temp   bool      // want a transient failure (not a verdict)
}

func resolveCases(t testing.TB, kit *envelopetest.Kit) []resolveCase {
	a, b := uuid.New(), uuid.New()
	keyA := a.String() + "/doc-1/report é+1.pdf"
	keyA2 := a.String() + "/doc-2/b.txt"
	keyB := b.String() + "/doc-3/c.txt"
	objA, objA2, objB := kit.Object(t, a, bucket, keyA), kit.Object(t, a, bucket, keyA2), kit.Object(t, b, bucket, keyB)
	reindex := `{"type":"reindex","document_id":"doc-1"}`
	reindexTok := kit.Job(t, a, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(reindex))
	ingest := `{"type":"ingest","bucket":"` + bucket + `","key":"` + keyA + `"}`
	ingestTok := kit.Job(t, a, envelope.ActionIngest, envelope.ObjectResource(bucket, keyA), []byte(ingest))
	purge := `{"type":"purge_tenant"}`
	purgeTok := kit.Job(t, b, envelope.ActionPurge, "doc:all", []byte(purge))
	expired := kit.JobClaims(a, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(reindex))
	expired.IssuedAt, expired.NotBefore, expired.Expiry = expired.IssuedAt.Add(-3*3600e9), expired.IssuedAt.Add(-3*3600e9), expired.IssuedAt.Add(-2*3600e9)
	// The binding rules themselves (every way an envelope can fail to bind)
	// are internal/binding's tests; these pin how the DLQ reports each kind
	// of failure, on whole messages of every shape.
	return []resolveCase{
		{name: "job, envelope in body", body: jobBody(reindexTok, reindex), tenant: a},
		{name: "job, envelope in attribute", body: reindex, attrs: map[string]string{event.AttrEnvelope: reindexTok}, tenant: a},
		{name: "ingest job", body: jobBody(ingestTok, ingest), tenant: a},
		{name: "purge job", body: jobBody(purgeTok, purge), tenant: b},
		{name: "S3 created, direct", body: s3Event("ObjectCreated:Put", keyA), objs: map[string]string{bucket + "/" + keyA: objA}, tenant: a},
		{name: "S3 created, two records of one tenant", body: s3Event("ObjectCreated:Put", keyA, keyA2),
			objs: map[string]string{bucket + "/" + keyA: objA, bucket + "/" + keyA2: objA2}, tenant: a, count: 2},
		{name: "S3 created, via SNS", body: snsEvent(s3Event("ObjectCreated:Put", keyA)), objs: map[string]string{bucket + "/" + keyA: objA}, tenant: a},
		{name: "S3 created, via EventBridge", body: eventBridgeEvent("Object Created", keyA), objs: map[string]string{bucket + "/" + keyA: objA}, tenant: a},
		{name: "S3 removed, object gone", body: s3Event("ObjectRemoved:Delete", keyB), tenant: b},

		{name: "expired job", body: jobBody(kit.Sign(t, expired), reindex), reason: "expired"},
		{name: "job without envelope", body: `{"job":` + reindex + `}`, reason: event.ReasonMalformedEnvelope},
		{name: "not JSON", body: "not json", reason: event.ReasonMalformed},
		{name: "S3 test event", body: `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"` + bucket + `"}`, reason: event.IgnoreTestEvent},
		{name: "S3 created, object gone", body: s3Event("ObjectCreated:Put", keyA), reason: binding.ReasonObjectUnavailable},
		{name: "S3 created, object without envelope", body: s3Event("ObjectCreated:Put", keyA), objs: map[string]string{bucket + "/" + keyA: ""}, reason: binding.ReasonMissingEnvelope},
		{name: "S3 created, records of two tenants", body: s3Event("ObjectCreated:Put", keyA, keyB),
			objs: map[string]string{bucket + "/" + keyA: objA, bucket + "/" + keyB: objB}, reason: dlq.ReasonMixedTenants},
		{name: "S3 created, S3 unreachable", body: s3Event("ObjectCreated:Put", keyA), s3err: errors.New("connection refused"), reason: binding.ReasonObjectUnavailable, temp: true},
		{name: "S3 removed, object exists", body: s3Event("ObjectRemoved:Delete", keyB), objs: map[string]string{bucket + "/" + keyB: objB}, reason: binding.ReasonObjectExists},
		{name: "S3 other bucket", body: strings.ReplaceAll(s3Event("ObjectCreated:Put", keyA), bucket, "other-bucket"), reason: binding.ReasonUnknownBucket},
	}
}

func TestEnvelopeResolver(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	for _, tc := range resolveCases(t, kit) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := bindingtest.NewObjects(tc.objs, tc.s3err)
			r := &dlq.EnvelopeResolver{Verifier: kit.Verifier(t), Objects: objs, Buckets: []string{bucket}}
			vs, err := r.Resolve(context.Background(), "m-1", []byte(tc.body), tc.attrs)
			if tc.tenant != uuid.Nil {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				want := max(tc.count, 1)
				if len(vs) != want {
					t.Fatalf("%d verified, want %d", len(vs), want)
				}
				for _, v := range vs {
					if v.Scope.TenantID() != tc.tenant || v.Claims.TenantID != tc.tenant {
						t.Errorf("tenant %s, want %s", v.Scope.TenantID(), tc.tenant)
					}
				}
				return
			}
			v := outcome.Classify(err)
			if err == nil || len(vs) != 0 {
				t.Fatalf("Resolve = %d verified, %v; want a refusal", len(vs), err)
			}
			if v.Reason != tc.reason || (v.Class == outcome.Transient) != tc.temp {
				t.Errorf("reason %q (%s), want %q (transient %v)", v.Reason, v.Class, tc.reason, tc.temp)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error carries a token: %v", err)
			}
		})
	}
}

// TestResolverKeysUnavailable: a key source outage is not a verdict.
func TestResolverKeysUnavailable(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	cfg := kit.Config()
	cfg.Keys = downKeys{}
	v, err := envelope.NewVerifier(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const job = `{"type":"reindex","document_id":"d"}`
	body := jobBody(kit.Job(t, uuid.New(), envelope.ActionReindex, "doc:d", []byte(job)), job)
	_, err = (&dlq.EnvelopeResolver{Verifier: v}).Resolve(context.Background(), "m", []byte(body), nil)
	if v := outcome.Classify(err); v.Reason != binding.ReasonKeysUnavailable || v.Class != outcome.Transient {
		t.Fatalf("Resolve: %v, want temporary keys_unavailable", err)
	}
}

type downKeys struct{}

func (downKeys) PublicKey(context.Context, string) (envelope.PublicKey, error) {
	return envelope.PublicKey{}, errors.New("JWKS endpoint down")
}

// FuzzEnvelopeResolver: no input makes the resolver panic, and nothing but a
// validly signed envelope yields a tenant.
func FuzzEnvelopeResolver(f *testing.F) {
	kit := envelopetest.New(f, envelopetest.WithSeed("dlq-fuzz"))
	for _, tc := range resolveCases(f, kit) {
		f.Add(tc.body, tc.attrs[event.AttrEnvelope])
	}
	r := &dlq.EnvelopeResolver{Verifier: kit.Verifier(f), Objects: bindingtest.NewObjects(nil, nil)}
	f.Fuzz(func(t *testing.T, body, attr string) {
		var attrs map[string]string
		if attr != "" {
			attrs = map[string]string{event.AttrEnvelope: attr}
		}
		vs, err := r.Resolve(context.Background(), "m", []byte(body), attrs)
		if err == nil {
			for _, v := range vs {
				if v.Scope.IsZero() {
					t.Fatal("verified without a scope")
				}
			}
			return
		}
		if len(vs) != 0 {
			t.Fatal("verified entries returned with an error")
		}
		if v := outcome.Classify(err); v.Reason == "" || v.Reason == worker.ReasonTransient {
			t.Fatalf("error without a reason: %v", err)
		}
	})
}
