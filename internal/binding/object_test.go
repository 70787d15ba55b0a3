package binding_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/binding/bindingtest"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

// TestObject: the Step Functions path (a task, `sfn start|replay`) is bound
// by the same rules as an S3 ObjectCreated event, and an envelope the input
// carries never replaces the object's: it must be byte-identical to it.
func TestObject(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	a, b := uuid.New(), uuid.New()
	keyA, keyB := a.String()+"/doc-1/a.txt", b.String()+"/doc-2/b.txt"
	objA, objB := kit.Object(t, a, bucket, keyA), kit.Object(t, b, bucket, keyB)
	strangerA := kit.SignWith(t, kit.Stranger, kit.ObjectClaims(a, bucket, keyA))
	objs := map[string]string{bucket + "/" + keyA: objA, bucket + "/" + keyB: objB, bucket + "/" + a.String() + "/doc-3/none.txt": ""}
	for _, tc := range []struct {
		name   string
		req    binding.ObjectRequest
		tenant uuid.UUID
		kind   binding.Kind
		reason string
	}{
		{name: "no input envelope", req: binding.ObjectRequest{Bucket: bucket, Key: keyA}, tenant: a},
		{name: "identical input envelope", req: binding.ObjectRequest{Bucket: bucket, Key: keyA, Envelope: objA}, tenant: a},
		{name: "pinned version", req: binding.ObjectRequest{Bucket: bucket, Key: keyA, VersionID: "v1"}, tenant: a},
		{name: "another object's genuine envelope in the input", req: binding.ObjectRequest{Bucket: bucket, Key: keyA, Envelope: objB},
			kind: binding.KindRejected, reason: binding.ReasonEnvelopeMismatch},
		{name: "a forged envelope in the input", req: binding.ObjectRequest{Bucket: bucket, Key: keyA, Envelope: strangerA},
			kind: binding.KindRejected, reason: binding.ReasonEnvelopeMismatch},
		{name: "input envelope with a trailing space", req: binding.ObjectRequest{Bucket: bucket, Key: keyA, Envelope: objA + " "},
			kind: binding.KindRejected, reason: binding.ReasonEnvelopeMismatch},
		{name: "an input envelope cannot stand in for a missing one",
			req:  binding.ObjectRequest{Bucket: bucket, Key: a.String() + "/doc-3/none.txt", Envelope: objA},
			kind: binding.KindRejected, reason: binding.ReasonMissingEnvelope},
		{name: "unknown bucket", req: binding.ObjectRequest{Bucket: other, Key: keyA}, kind: binding.KindNotServed, reason: binding.ReasonUnknownBucket},
		{name: "object gone", req: binding.ObjectRequest{Bucket: bucket, Key: a.String() + "/doc-9/x.txt"}, kind: binding.KindStale, reason: binding.ReasonObjectUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &binding.Resolver{Verifier: kit.Verifier(t), Objects: bindingtest.NewObjects(objs, nil), Buckets: []string{bucket}}
			got, err := r.Object(context.Background(), tc.req)
			if tc.tenant != uuid.Nil {
				if err != nil || got.Verified.Scope.TenantID() != tc.tenant || got.Head.Envelope == "" {
					t.Fatalf("Object = %v (%s), %v; want tenant %s", got.Verified.Scope.TenantID(), got.Head.Key, err, tc.tenant)
				}
				return
			}
			var be *binding.Error
			if !errors.As(err, &be) || be.Kind != tc.kind || be.Reason() != tc.reason {
				t.Fatalf("Object: %v, want %s (%s)", err, tc.kind, tc.reason)
			}
			if !got.Verified.Scope.IsZero() {
				t.Error("a refusal returned a scope")
			}
		})
	}
}
