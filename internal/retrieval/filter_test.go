package retrieval_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgvector/pgvector-go"

	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

var filterErrors = []struct {
	name, in, path, reason string
}{
	{"not json", `{"equals":`, "", "not JSON"},
	{"trailing", `{"equals":{"key":"a","value":1}} {}`, "", "trailing data"},
	{"array", `[]`, "", "JSON object with one operator"},
	{"two operators", `{"equals":{"key":"a","value":1},"in":{"key":"a","value":[1]}}`, "", "exactly one operator, found 2"},
	{"no operator", `{}`, "", "exactly one operator, found 0"},
	{"unknown operator", `{"like":{"key":"a","value":"%"}}`, "", `unknown operator "like"`},
	{"missing key", `{"equals":{"value":1}}`, "equals.key", "must be a string"},
	{"missing value", `{"equals":{"key":"a"}}`, "equals.value", "is missing"},
	{"extra field", `{"equals":{"key":"a","value":1,"sql":"1=1"}}`, "equals", `unknown field "sql"`},
	{"empty key", `{"equals":{"key":"","value":1}}`, "equals.key", "is empty"},
	{"control key", `{"equals":{"key":"a\u0000b","value":1}}`, "equals.key", "control character"},
	{"object value", `{"equals":{"key":"a","value":{"x":1}}}`, "equals.value", "not object"},
	{"null value", `{"equals":{"key":"a","value":null}}`, "equals.value", "not null"},
	{"range string", `{"greaterThan":{"key":"a","value":"5"}}`, "greaterThan.value", "must be a number"},
	{"startsWith number", `{"startsWith":{"key":"a","value":5}}`, "startsWith.value", "must be a string"},
	{"in scalar", `{"in":{"key":"a","value":"x"}}`, "in.value", "must be a list"},
	{"in empty", `{"in":{"key":"a","value":[]}}`, "in.value", "1 to 100 values"},
	{"in nested list", `{"in":{"key":"a","value":[[1]]}}`, "in.value[0]", "not list"},
	{"andAll one", `{"andAll":[{"equals":{"key":"a","value":1}}]}`, "andAll", "at least 2"},
	{"orAll not list", `{"orAll":{"equals":{"key":"a","value":1}}}`, "orAll", "list of filters"},
	{"deep error path", `{"andAll":[{"equals":{"key":"a","value":1}},{"orAll":[{"in":{"key":"b","value":[]}},{"equals":{"key":"c","value":1}}]}]}`,
		"andAll[1].orAll[0].in.value", "1 to 100 values"},
	{"too deep", deep(6), "", "deeper than 5"},
	{"huge number", `{"greaterThan":{"key":"a","value":1e999}}`, "greaterThan.value", "out of range"},
}

func deep(n int) string {
	s := `{"equals":{"key":"a","value":1}}`
	for range n {
		s = `{"andAll":[` + s + `,{"equals":{"key":"b","value":2}}]}`
	}
	return s
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range filterErrors {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := retrieval.ParseFilter([]byte(tc.in))
			var fe *retrieval.FilterError
			if !errors.As(err, &fe) || !errors.Is(err, retrieval.ErrInvalidFilter) {
				t.Fatalf("err %v, want a *FilterError", err)
			}
			if !strings.HasPrefix(fe.Path, tc.path) || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("got path %q reason %q; want path %q reason containing %q", fe.Path, fe.Reason, tc.path, tc.reason)
			}
		})
	}
}

func TestParseFilterNull(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "  ", "null"} {
		if f, err := retrieval.ParseFilter([]byte(in)); f != nil || err != nil {
			t.Errorf("%q: %v, %v; want no filter", in, f, err)
		}
	}
}

// matches is the reference semantics (Bedrock KB RetrievalFilter).
func matches(f retrieval.Filter, attrs map[string]any) bool {
	v, ok := attrs[f.Key]
	num := func(x any) (float64, bool) {
		switch n := x.(type) {
		case json.Number:
			f, err := n.Float64()
			return f, err == nil
		case float64:
			return n, true
		}
		return 0, false
	}
	eq := func(a, b any) bool {
		if x, ok := num(a); ok {
			y, ok := num(b)
			return ok && x == y
		}
		return reflect.DeepEqual(a, b)
	}
	switch f.Op {
	case retrieval.OpAndAll, retrieval.OpOrAll:
		for _, sub := range f.Filter {
			if m := matches(sub, attrs); m != (f.Op == retrieval.OpAndAll) {
				return m
			}
		}
		return f.Op == retrieval.OpAndAll
	case retrieval.OpEquals:
		return ok && eq(v, f.Value)
	case retrieval.OpNotEquals:
		return !ok || !eq(v, f.Value)
	case retrieval.OpIn, retrieval.OpNotIn:
		in := ok && slices.ContainsFunc(f.Value.([]any), func(x any) bool { return eq(v, x) })
		return in == (f.Op == retrieval.OpIn)
	case retrieval.OpGreaterThan, retrieval.OpGreaterThanOrEquals, retrieval.OpLessThan, retrieval.OpLessThanOrEquals:
		x, ok1 := num(v)
		y, _ := num(f.Value)
		if !ok || !ok1 {
			return false
		}
		return map[retrieval.Op]bool{retrieval.OpGreaterThan: x > y, retrieval.OpGreaterThanOrEquals: x >= y,
			retrieval.OpLessThan: x < y, retrieval.OpLessThanOrEquals: x <= y}[f.Op]
	case retrieval.OpStartsWith, retrieval.OpStringContains:
		s, isStr := v.(string)
		if f.Op == retrieval.OpStartsWith {
			return isStr && strings.HasPrefix(s, f.Value.(string))
		}
		return isStr && strings.Contains(s, f.Value.(string))
	case retrieval.OpListContains:
		l, isList := v.([]any)
		return isList && slices.ContainsFunc(l, func(x any) bool { return eq(x, f.Value) })
	}
	panic("unknown op " + f.Op)
}

var semanticsDocs = []string{
	`{"year": 2024, "team": "finance", "tags": ["q1", "board"], "public": true, "score": 1.5}`,
	`{"year": 2023, "team": "fin-ops", "tags": ["q2"], "public": false, "score": 0.5}`,
	`{"year": "2024", "team": "legal"}`,
	`{"year": 2024.0, "team": "Finance", "tags": "q1"}`,
	`{"year": 2025, "region": "eu-west-1", "public": true}`,
	`{}`,
	`{"team": "it's \"quoted\" ' OR 1=1 --", "year": -1}`,
	`{"score": 2, "team": "sales", "tags": ["board", "q1", "q3"]}`,
}

var semanticsFilters = []string{
	`{"equals": {"key": "year", "value": 2024}}`,
	`{"equals": {"key": "year", "value": "2024"}}`,
	`{"notEquals": {"key": "year", "value": 2024}}`,
	`{"equals": {"key": "public", "value": true}}`,
	`{"notEquals": {"key": "public", "value": true}}`,
	`{"in": {"key": "team", "value": ["finance", "sales", 2024]}}`,
	`{"notIn": {"key": "team", "value": ["finance", "sales"]}}`,
	`{"greaterThan": {"key": "year", "value": 2023}}`,
	`{"greaterThanOrEquals": {"key": "year", "value": 2023}}`,
	`{"lessThan": {"key": "score", "value": 2}}`,
	`{"lessThanOrEquals": {"key": "score", "value": 2}}`,
	`{"startsWith": {"key": "team", "value": "fin"}}`,
	`{"startsWith": {"key": "team", "value": ""}}`,
	`{"stringContains": {"key": "team", "value": "OR 1=1"}}`,
	`{"equals": {"key": "team", "value": "it's \"quoted\" ' OR 1=1 --"}}`,
	`{"listContains": {"key": "tags", "value": "q1"}}`,
	`{"equals": {"key": "x' OR '1'='1", "value": 1}}`,
	`{"andAll": [{"equals": {"key": "year", "value": 2024}}, {"startsWith": {"key": "team", "value": "fin"}}]}`,
	`{"orAll": [{"equals": {"key": "region", "value": "eu-west-1"}}, {"lessThan": {"key": "year", "value": 0}}, {"listContains": {"key": "tags", "value": "q3"}}]}`,
	`{"andAll": [{"orAll": [{"equals": {"key": "public", "value": true}}, {"notEquals": {"key": "team", "value": "legal"}}]}, {"notIn": {"key": "year", "value": [2023, 2025]}}]}`,
}

// TestFilterSemantics runs every filter through the real search SQL on
// documents with varied attributes and compares the documents it keeps with
// the reference semantics.
func TestFilterSemantics(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t)
	tenant := tenantdbtest.NewTenant()
	vec := make([]float32, tenantdbtest.Dims)
	for i := range vec {
		vec[i] = rand.Float32() - 0.5
	}
	var docs, chunks [][]any
	attrs := make([]map[string]any, len(semanticsDocs))
	for i, a := range semanticsDocs {
		id := fmt.Sprintf("doc-%d", i)
		dec := json.NewDecoder(strings.NewReader(a))
		dec.UseNumber()
		if err := dec.Decode(&attrs[i]); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, []any{tenant, id, "s3://b/" + id, "v1", "ready", 1, a})
		chunks = append(chunks, []any{tenant, id, "v1", 0, "text", 1, 0, 4, pgvector.NewVector(vec), "m", "h"})
	}
	db.BulkLoad(t, "tenants", []string{"tenant_id"}, [][]any{{tenant}})
	db.BulkLoad(t, "documents", []string{"tenant_id", "document_id", "source_uri", "version", "status", "chunk_count", "attributes"}, docs)
	db.BulkLoad(t, "chunks", []string{"tenant_id", "document_id", "version", "ordinal", "text", "token_count", "char_start", "char_end", "embedding", "model", "content_hash"}, chunks)
	s, err := retrieval.New(db.Open(t), retrieval.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range semanticsFilters {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			f, err := retrieval.ParseFilter([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, a := range attrs {
				if matches(*f, a) {
					want = append(want, "doc-"+strconv.Itoa(i))
				}
			}
			for _, plan := range []retrieval.Plan{retrieval.PlanExact, retrieval.PlanHNSW} {
				res, err := s.Search(context.Background(), tenantdbtest.Scope(t, tenant), retrieval.Request{Vector: vec, K: 100, Filter: f, Plan: plan})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, h := range res.Hits {
					got = append(got, h.DocumentID)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("plan %s: documents %v, want %v", plan, got, want)
				}
				if res.Matching != int64(len(want)) {
					t.Errorf("plan %s: matching %d, want %d", plan, res.Matching, len(want))
				}
			}
		})
	}
}

// FuzzParseFilter: the parser never panics, accepts only what it can write
// back and read again unchanged, and what it accepts is valid.
func FuzzParseFilter(f *testing.F) {
	for _, tc := range filterErrors {
		f.Add([]byte(tc.in))
	}
	for _, in := range semanticsFilters {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := retrieval.ParseFilter(data)
		if err != nil {
			if !errors.Is(err, retrieval.ErrInvalidFilter) {
				t.Fatalf("error %v is not ErrInvalidFilter", err)
			}
			return
		}
		if p == nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted filter does not validate: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := retrieval.ParseFilter(b)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip: %s -> %+v, %v", b, q, err)
		}
	})
}
