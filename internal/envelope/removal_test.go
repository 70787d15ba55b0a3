package envelope_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/envelope"
)

func TestVerifyRemoval(t *testing.T) {
	t.Parallel()
	tid := uuid.New()
	for _, tc := range []struct {
		name, bucket, key string
		want              envelope.Reason
	}{
		{"tenant prefix", "b", tid.String() + "/doc/file.txt", ""},
		{"no prefix", "b", "file.txt", envelope.ReasonNonCanonicalKey},
		{"dot segments into another tenant", "b", tid.String() + "/../" + uuid.NewString() + "/doc/f", envelope.ReasonNonCanonicalKey},
		{"dot segment in the document", "b", tid.String() + "/../f", envelope.ReasonNonCanonicalKey},
		{"backslash", "b", tid.String() + "/doc/..\\f", envelope.ReasonNonCanonicalKey},
		{"not a uuid", "b", "acme/doc/file.txt", envelope.ReasonBadTenant},
		{"upper-case uuid", "b", "A" + tid.String()[1:] + "/doc/f", envelope.ReasonBadTenant},
		{"nil uuid", "b", uuid.Nil.String() + "/doc/f", envelope.ReasonBadTenant},
		{"no bucket", "", tid.String() + "/doc/f", envelope.ReasonBindingMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := envelope.VerifyRemoval(tc.bucket, tc.key, "msg-1")
			if got := envelope.Reason(envelope.ReasonOf(err)); got != tc.want {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.want, err)
			}
			if tc.want != "" {
				return
			}
			if v.Scope.TenantID() != tid || v.Claims.Action != envelope.ActionDelete ||
				v.Claims.Resource != envelope.ObjectResource(tc.bucket, tc.key) || v.Scope.Actor() != envelope.SubjectS3Removal {
				t.Fatalf("wrong verified removal: %+v", v.Claims)
			}
		})
	}
}
