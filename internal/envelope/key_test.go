package envelope_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/envelope"
	"golang.org/x/text/unicode/norm"
)

var keyCases = func() []struct {
	name, key string
	want      envelope.Reason
} {
	tid := "6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11"
	other := "0b0e7a7e-1111-4c55-9a3e-2f0d7c9b1a11"
	return []struct {
		name, key string
		want      envelope.Reason
	}{
		{"canonical", tid + "/doc-1/report.pdf", ""},
		{"spaces and unicode", tid + "/plus doc/Grüße a+b.txt", ""},
		{"percent not an escape", tid + "/doc/50% off.pdf", ""},
		{"percent-escaped letter", tid + "/doc/My%20Doc.pdf", ""},
		{"three dots is a name", tid + "/doc/...", ""},
		{"max lengths", tid + "/" + strings.Repeat("d", 256) + "/" + strings.Repeat("f", 255), ""},
		{"empty", "", envelope.ReasonNonCanonicalKey},
		{"one segment", "file.txt", envelope.ReasonNonCanonicalKey},
		{"two segments", tid + "/file.txt", envelope.ReasonNonCanonicalKey},
		{"four segments", tid + "/doc/sub/file.txt", envelope.ReasonNonCanonicalKey},
		{"../ into another tenant", tid + "/../" + other + "/doc/f.txt", envelope.ReasonNonCanonicalKey},
		{"../../ into another tenant", tid + "/x/../../" + other + "/doc/f.txt", envelope.ReasonNonCanonicalKey},
		{"dot document", tid + "/./f.txt", envelope.ReasonNonCanonicalKey},
		{"dot-dot filename", tid + "/doc/..", envelope.ReasonNonCanonicalKey},
		{"leading slash", "/" + tid + "/doc/f", envelope.ReasonNonCanonicalKey},
		{"trailing slash", tid + "/doc/", envelope.ReasonNonCanonicalKey},
		{"double slash", tid + "//f.txt", envelope.ReasonNonCanonicalKey},
		{"backslash", tid + "/doc/..\\..\\f", envelope.ReasonNonCanonicalKey},
		{"NUL", tid + "/doc/f\x00.txt", envelope.ReasonNonCanonicalKey},
		{"newline", tid + "/doc/f\n.txt", envelope.ReasonNonCanonicalKey},
		{"DEL", tid + "/doc/f\x7f", envelope.ReasonNonCanonicalKey},
		{"C1 control", tid + "/doc/f\u0085", envelope.ReasonNonCanonicalKey},
		{"bidi override", tid + "/doc/\u202egnp.exe", envelope.ReasonNonCanonicalKey},
		{"zero-width space", tid + "/doc/f\u200b.txt", envelope.ReasonNonCanonicalKey},
		{"replacement character", tid + "/doc/f\ufffd", envelope.ReasonNonCanonicalKey},
		{"invalid UTF-8", tid + "/doc/f\xff", envelope.ReasonNonCanonicalKey},
		{"not NFC", tid + "/doc/e\u0301.txt", envelope.ReasonNonCanonicalKey},
		{"fullwidth dots", tid + "/\uff0e\uff0e/f", envelope.ReasonNonCanonicalKey},
		{"two dot leader", tid + "/\u2025/f", envelope.ReasonNonCanonicalKey},
		{"fullwidth solidus", tid + "/doc\uff0fx/f", envelope.ReasonNonCanonicalKey},
		{"division slash", tid + "/doc\u2215x/f", envelope.ReasonNonCanonicalKey},
		{"%2F", tid + "/doc%2F..%2F/f", envelope.ReasonNonCanonicalKey},
		{"%2f lower", tid + "/doc/a%2fb", envelope.ReasonNonCanonicalKey},
		{"%5C", tid + "/doc/a%5Cb", envelope.ReasonNonCanonicalKey},
		{"%2e%2e", tid + "/%2e%2e/f", envelope.ReasonNonCanonicalKey},
		{"%252F double escape", tid + "/doc/a%252Fb", envelope.ReasonNonCanonicalKey},
		{"%00", tid + "/doc/a%00", envelope.ReasonNonCanonicalKey},
		{"key too long", tid + "/" + strings.Repeat("d", 256) + "/" + strings.Repeat("f", 255) + strings.Repeat("x", 600), envelope.ReasonNonCanonicalKey},
		{"document too long", tid + "/" + strings.Repeat("d", 257) + "/f", envelope.ReasonNonCanonicalKey},
		{"filename too long", tid + "/d/" + strings.Repeat("f", 256), envelope.ReasonNonCanonicalKey},
		{"tenant upper case", strings.ToUpper(tid) + "/d/f", envelope.ReasonBadTenant},
		{"tenant not a UUID", "acme/d/f", envelope.ReasonBadTenant},
		{"tenant nil", uuid.Nil.String() + "/d/f", envelope.ReasonBadTenant},
		{"tenant in braces", "{" + tid + "}/d/f", envelope.ReasonBadTenant},
	}
}()

func TestParseObjectKey(t *testing.T) {
	t.Parallel()
	for _, tc := range keyCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := envelope.ParseObjectKey(tc.key)
			if got := envelope.Reason(envelope.ReasonOf(err)); got != tc.want {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.want, err)
			}
			if tc.want == "" && k.String() != tc.key {
				t.Fatalf("round trip %q != %q", k.String(), tc.key)
			}
		})
	}
}

// FuzzParseObjectKey: an accepted key has exactly the canonical shape, and
// re-joining its parts gives it back.
func FuzzParseObjectKey(f *testing.F) {
	for _, tc := range keyCases {
		f.Add(tc.key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := envelope.ParseObjectKey(key)
		if err != nil {
			if envelope.ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		parts := strings.Split(key, "/")
		switch {
		case k.String() != key, len(parts) != 3, k.Tenant.String() != parts[0]:
			t.Fatalf("accepted %q as %+v", key, k)
		case !utf8.ValidString(key), !norm.NFC.IsNormalString(key), len(key) > envelope.MaxKeyBytes:
			t.Fatalf("accepted %q: not valid NFC within limits", key)
		case strings.ContainsAny(key, "\\\x00\n\r"), strings.Contains(key, "/../"), strings.Contains(key, "/./"),
			strings.HasSuffix(key, "/.."), strings.HasSuffix(key, "/."):
			t.Fatalf("accepted %q with a separator trick", key)
		}
		for _, seg := range parts {
			if seg == "" || norm.NFKC.String(seg) == ".." || strings.Contains(strings.ToLower(seg), "%2f") {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
	})
}
