package envelope_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	v := k.Verifier(t)
	s := newSubject()
	tenant, bucket, key, body := s.tenant, s.bucket, s.key, s.body
	object, job := k.Object(t, tenant, bucket, key), k.Job(t, tenant, envelope.ActionReindex, "doc:doc-1", body)
	for _, tc := range []struct {
		name   string
		req    envelope.CheckRequest
		reason string // "" for a valid verdict
	}{
		{"object", envelope.CheckRequest{Token: object, Bucket: bucket, Key: key}, ""},
		{"object, another key", envelope.CheckRequest{Token: object, Bucket: bucket, Key: tenant.String() + "/doc-2/x.pdf"}, "binding_mismatch"},
		{"token alone", envelope.CheckRequest{Token: object}, ""},
		{"job body", envelope.CheckRequest{Token: job, Body: body}, ""},
		{"another job body", envelope.CheckRequest{Token: job, Body: []byte("{}")}, "body_hash_mismatch"},
		{"garbage", envelope.CheckRequest{Token: "x.y.z"}, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Check(context.Background(), tc.req)
			if tc.reason == "" {
				if err != nil || !got.Valid || got.Claims == nil || got.Scope != "tenant:"+tenant.String() {
					t.Fatalf("Check = %+v, %v; want a valid verdict", got, err)
				}
				return
			}
			if !errors.Is(err, envelope.ErrRefused) || got.Valid || got.Reason != tc.reason || got.Claims != nil {
				t.Fatalf("Check = %+v, %v; want refused (%s)", got, err, tc.reason)
			}
		})
	}
}

// TestVerdictMintsNoScope: a Verdict is an operator's answer; it must never
// carry a tenantdb.Scope, so Check cannot bypass the gate (internal/binding).
func TestVerdictMintsNoScope(t *testing.T) {
	t.Parallel()
	scope := reflect.TypeFor[tenantdb.Scope]()
	typ := reflect.TypeFor[envelope.Verdict]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Type == scope || f.Type == reflect.PointerTo(scope) {
			t.Errorf("Verdict.%s is a tenantdb.Scope", f.Name)
		}
	}
}
