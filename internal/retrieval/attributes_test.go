package retrieval_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/retrieval"
)

func TestDocumentAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		meta    map[string]string
		sidecar string
		want    string // JSON, "" for nil
		err     string
	}{
		{name: "nothing", want: ""},
		{name: "s3 metadata", meta: map[string]string{"Team": "finance", "tenantry-envelope": "x", "tenantry-other": "y"}, want: `{"team":"finance"}`},
		{name: "sidecar plain", sidecar: `{"metadataAttributes": {"year": 2024, "public": true, "tags": ["a", "b"], "team": "legal"}}`,
			want: `{"year":2024,"public":true,"tags":["a","b"],"team":"legal"}`},
		{name: "sidecar wins", meta: map[string]string{"team": "finance", "region": "eu"}, sidecar: `{"metadataAttributes": {"team": "legal"}}`,
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
			got, err := retrieval.DocumentAttributes(tc.meta, []byte(tc.sidecar))
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
	f.Add([]byte(`{"metadataAttributes": {"year": 2024, "tags": ["a"]}}`))
	f.Add([]byte(`{"metadataAttributes": {"y": {"value": {"type": "BOOLEAN", "booleanValue": true}}}}`))
	f.Add([]byte(`{"metadataAttributes": {"a": 1e999}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := retrieval.DocumentAttributes(nil, data)
		if err != nil {
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
