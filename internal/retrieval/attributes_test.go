package retrieval_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/pipeline"
)

func TestDocumentAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		meta    map[string]string
		tags    map[string]string
		sidecar string
		want    string // JSON, "" for nil
		err     string
	}{
		{name: "nothing", want: ""},
		{name: "s3 metadata", meta: map[string]string{"Tenantry-Attr-Team": "finance", "tenantry-envelope": "x", "tenantry-other": "y", "mtime": "1700000000"}, want: `{"team":"finance"}`},
		{name: "s3 tags", tags: map[string]string{"tenantry-attr-Region": "eu", "lifecycle": "archive"}, want: `{"region":"eu"}`},
		{name: "metadata wins over tags", meta: map[string]string{"tenantry-attr-team": "finance"}, tags: map[string]string{"tenantry-attr-team": "legal", "tenantry-attr-region": "eu"},
			want: `{"team":"finance","region":"eu"}`},
		{name: "sidecar wins over tags", tags: map[string]string{"tenantry-attr-team": "legal"}, sidecar: `{"metadataAttributes": {"team": "sales"}}`, want: `{"team":"sales"}`},
		{name: "prefix alone", meta: map[string]string{"tenantry-attr-": "x"}, err: "is empty"},
		{name: "tag value too long", tags: map[string]string{"tenantry-attr-a": strings.Repeat("x", 1025)}, err: "too long"},
		{name: "tag value not UTF-8", tags: map[string]string{"tenantry-attr-a": "\xff"}, err: "not UTF-8"},
		{name: "tag key with a control character", tags: map[string]string{"tenantry-attr-a\x00": "x"}, err: "S3 tag key"},
		{name: "sidecar plain", sidecar: `{"metadataAttributes": {"year": 2024, "public": true, "tags": ["a", "b"], "team": "legal"}}`,
			want: `{"year":2024,"public":true,"tags":["a","b"],"team":"legal"}`},
		{name: "sidecar wins", meta: map[string]string{"tenantry-attr-team": "finance", "tenantry-attr-region": "eu"}, sidecar: `{"metadataAttributes": {"team": "legal"}}`,
			want: `{"team":"legal","region":"eu"}`},
		{name: "typed form", sidecar: `{"metadataAttributes": {"year": {"value": {"type": "NUMBER", "numberValue": 2024}, "includeForEmbedding": false},
			"tags": {"value": {"type": "STRING_LIST", "stringListValue": ["x"]}}}}`, want: `{"year":2024,"tags":["x"]}`},
		{name: "not json", sidecar: `{`, err: "not a JSON object"},
		{name: "trailing", sidecar: `{"metadataAttributes": {}} x`, err: "trailing"},
		{name: "nested object", sidecar: `{"metadataAttributes": {"a": {"b": 1}}}`, err: `typed form needs`},
		{name: "typed mismatch", sidecar: `{"metadataAttributes": {"a": {"value": {"type": "NUMBER", "numberValue": "1"}}}}`, err: "is not a number"},
		{name: "list of numbers", sidecar: `{"metadataAttributes": {"a": [1, 2]}}`, err: "list must hold strings"},
		{name: "null", sidecar: `{"metadataAttributes": {"a": null}}`, err: "must be a string"},
		{name: "empty key", sidecar: `{"metadataAttributes": {"": 1}}`, err: "is empty"},
		{name: "too large", sidecar: `{"metadataAttributes": {"a": "` + strings.Repeat("x", 11<<10) + `"}}`, err: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := retrieval.DocumentAttributes(tc.meta, tc.tags, []byte(tc.sidecar))
			if tc.err != "" {
				if !errors.Is(err, retrieval.ErrInvalidAttributes) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			var want map[string]any
			_ = json.Unmarshal([]byte(tc.want), &want)
			b, _ := json.Marshal(got)
			var gotNorm map[string]any
			_ = json.Unmarshal(b, &gotNorm)
			if !reflect.DeepEqual(gotNorm, want) {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}

// FuzzDocumentAttributes: a sidecar from a tenant's bucket never panics the
// parser, and what it accepts encodes to a JSON object within the limits.
func FuzzDocumentAttributes(f *testing.F) {
	f.Add([]byte(`{"metadataAttributes": {"year": 2024, "tags": ["a"]}}`), "tenantry-attr-team", "finance", "tenantry-attr-region", "eu")
	f.Add([]byte(`{"metadataAttributes": {"y": {"value": {"type": "BOOLEAN", "booleanValue": true}}}}`), "lifecycle", "x", "TENANTRY-ATTR-Y", "")
	f.Add([]byte(`{"metadataAttributes": {"a": 1e999}}`), "tenantry-attr-", "\xff", "tenantry-attr-a\x00", "v")
	f.Fuzz(func(t *testing.T, data []byte, metaKey, metaVal, tagKey, tagVal string) {
		got, err := retrieval.DocumentAttributes(map[string]string{metaKey: metaVal}, map[string]string{tagKey: tagVal}, data)
		if err != nil {
			if !errors.Is(err, retrieval.ErrInvalidAttributes) {
				t.Fatalf("error %v does not wrap ErrInvalidAttributes", err)
			}
			return
		}
		if len(got) > retrieval.MaxAttributes {
			t.Fatalf("%d attributes", len(got))
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	})
}

func ExampleParseFilter() {
	f, err := retrieval.ParseFilter([]byte(`{"andAll": [
		{"equals": {"key": "team", "value": "finance"}},
		{"greaterThanOrEquals": {"key": "year", "value": 2024}}]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Op, len(f.Filter))
	_, err = retrieval.ParseFilter([]byte(`{"in": {"key": "team", "value": []}}`))
	fmt.Println(err)
	// Output:
	// andAll 2
	// retrieval: invalid filter at in.value: must hold 1 to 100 values
}

// fakeSource is an AttributeSource over maps.
type fakeSource struct {
	tags    map[string]string
	tagErr  error
	sidecar []byte
	sideErr error
	reads   []string
}

func (f *fakeSource) Tags(_ context.Context, bucket, key, versionID string) (map[string]string, error) {
	f.reads = append(f.reads, "tags "+bucket+"/"+key+"@"+versionID)
	return f.tags, f.tagErr
}

func (f *fakeSource) ReadSmall(_ context.Context, bucket, key string, limit int64) ([]byte, error) {
	f.reads = append(f.reads, fmt.Sprintf("get %s/%s<=%d", bucket, key, limit))
	return f.sidecar, f.sideErr
}

// ReadAttributes reads the tags of the document's version and its sidecar
// (bounded), and refuses what S3 should never hold as bad metadata.
func TestReadAttributes(t *testing.T) {
	t.Parallel()
	transient := errors.New("s3 down")
	for _, tc := range []struct {
		name    string
		src     fakeSource
		want    string
		invalid bool
		err     error
	}{
		{name: "all three", src: fakeSource{tags: map[string]string{"tenantry-attr-region": "eu"}, sidecar: []byte(`{"metadataAttributes":{"year":2024}}`)},
			want: `{"region":"eu","team":"finance","year":2024}`},
		{name: "no sidecar, no tags", want: `{"team":"finance"}`},
		{name: "too many tags", src: fakeSource{tagErr: fmt.Errorf("%w: 11 tags", pipeline.ErrMalformed)}, invalid: true},
		{name: "sidecar too large", src: fakeSource{sideErr: fmt.Errorf("%w: big", pipeline.ErrTooLarge)}, invalid: true},
		{name: "bad sidecar", src: fakeSource{sidecar: []byte(`{"metadataAttributes":{"a":null}}`)}, invalid: true},
		{name: "tags unreadable", src: fakeSource{tagErr: transient}, err: transient},
		{name: "sidecar unreadable", src: fakeSource{sideErr: transient}, err: transient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := tc.src
			got, err := retrieval.ReadAttributes(context.Background(), &src, "b", "t/d/f.pdf", "v1", map[string]string{"tenantry-attr-team": "finance"})
			switch {
			case tc.invalid:
				if !errors.Is(err, retrieval.ErrInvalidAttributes) {
					t.Fatalf("err %v, want invalid attributes", err)
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) || errors.Is(err, retrieval.ErrInvalidAttributes) {
					t.Fatalf("err %v, want %v as is", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
			if want := []string{"tags b/t/d/f.pdf@v1", fmt.Sprintf("get b/t/d/f.pdf.metadata.json<=%d", retrieval.MaxSidecarBytes)}; !reflect.DeepEqual(src.reads, want) {
				t.Errorf("reads %q, want %q", src.reads, want)
			}
		})
	}
}
