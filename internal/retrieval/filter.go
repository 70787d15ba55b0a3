package retrieval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidFilter is wrapped by every *FilterError.
var ErrInvalidFilter = errors.New("retrieval: invalid filter")

// FilterError says where a filter is wrong and why. Path is a JSON-pointer-like
// location ("andAll[1].in.value"); the message never echoes attribute values.
type FilterError struct {
	Path   string
	Reason string
}

func (e *FilterError) Error() string {
	if e.Path == "" {
		return "retrieval: invalid filter: " + e.Reason
	}
	return "retrieval: invalid filter at " + e.Path + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalidFilter) true.
func (e *FilterError) Unwrap() error { return ErrInvalidFilter }

// Limits of the filter language: a filter is outside input (an API body), so
// its size, depth and every list are bounded before it reaches SQL.
const (
	MaxFilterBytes    = 16 << 10
	MaxFilterDepth    = 5
	MaxFilterLeaves   = 32
	MaxFilterList     = 100
	MaxAttributeKey   = 100
	MaxAttributeValue = 1024
	minGroup          = 2 // Bedrock: andAll/orAll hold at least two filters
)

// Op is a filter operator, named as in Bedrock Knowledge Bases' RetrievalFilter.
type Op string

// The operators.
const (
	OpEquals              Op = "equals"
	OpNotEquals           Op = "notEquals"
	OpGreaterThan         Op = "greaterThan"
	OpGreaterThanOrEquals Op = "greaterThanOrEquals"
	OpLessThan            Op = "lessThan"
	OpLessThanOrEquals    Op = "lessThanOrEquals"
	OpIn                  Op = "in"
	OpNotIn               Op = "notIn"
	OpStartsWith          Op = "startsWith"
	OpListContains        Op = "listContains"
	OpStringContains      Op = "stringContains"
	OpAndAll              Op = "andAll"
	OpOrAll               Op = "orAll"
)

var ops = map[Op]bool{
	OpEquals: true, OpNotEquals: true, OpGreaterThan: true, OpGreaterThanOrEquals: true,
	OpLessThan: true, OpLessThanOrEquals: true, OpIn: true, OpNotIn: true, OpStartsWith: true,
	OpListContains: true, OpStringContains: true, OpAndAll: true, OpOrAll: true,
}

// Filter is a parsed, validated metadata filter: exactly one operator, either
// a group (andAll, orAll) of at least two filters or a comparison of one
// document attribute (Key) with a value. Semantics follow Bedrock KB:
//
//   - equals / notEquals: the attribute equals the value (string, number or
//     boolean; numbers compare numerically). notEquals also matches documents
//     that lack the attribute.
//   - greaterThan, greaterThanOrEquals, lessThan, lessThanOrEquals: the
//     attribute is a number and compares so with the (number) value.
//   - in / notIn: the attribute equals one of / none of a non-empty list of
//     values; notIn also matches documents that lack the attribute.
//   - startsWith / stringContains: the attribute is a string with that
//     prefix / substring.
//   - listContains: the attribute is a list holding the value.
//
// Build one with ParseFilter (JSON) or the constructors (Equals, AndAll, ...).
type Filter struct {
	Op     Op
	Key    string
	Value  any      // string, json.Number, bool, or []any of those (in/notIn)
	Filter []Filter // andAll, orAll
}

// ParseFilter parses a filter in Bedrock's RetrievalFilter JSON shape, e.g.
//
//	{"andAll": [{"equals": {"key": "year", "value": 2024}},
//	            {"startsWith": {"key": "team", "value": "fin"}}]}
//
// An empty input or the JSON null means "no filter" (nil, nil).
func ParseFilter(data []byte) (*Filter, error) {
	if len(data) > MaxFilterBytes {
		return nil, &FilterError{Reason: fmt.Sprintf("larger than %d bytes", MaxFilterBytes)}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	if !utf8.Valid(trimmed) {
		return nil, &FilterError{Reason: "not UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, &FilterError{Reason: "not JSON: " + jsonReason(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &FilterError{Reason: "trailing data after the filter"}
	}
	leaves := 0
	f, err := parseNode(raw, "", 1, &leaves)
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// UnmarshalJSON implements json.Unmarshaler with ParseFilter's rules.
func (f *Filter) UnmarshalJSON(data []byte) error {
	p, err := ParseFilter(data)
	if err != nil {
		return err
	}
	if p == nil {
		*f = Filter{}
		return nil
	}
	*f = *p
	return nil
}

// MarshalJSON writes the Bedrock RetrievalFilter shape.
func (f Filter) MarshalJSON() ([]byte, error) {
	switch f.Op {
	case OpAndAll, OpOrAll:
		return json.Marshal(map[string][]Filter{string(f.Op): f.Filter})
	case "":
		return []byte("null"), nil
	}
	return json.Marshal(map[string]map[string]any{string(f.Op): {"key": f.Key, "value": f.Value}})
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "malformed"
}

func join(path, elem string) string {
	if path == "" {
		return elem
	}
	return path + "." + elem
}

func parseNode(raw any, path string, depth int, leaves *int) (Filter, error) {
	if depth > MaxFilterDepth {
		return Filter{}, &FilterError{Path: path, Reason: fmt.Sprintf("nested deeper than %d levels", MaxFilterDepth)}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return Filter{}, &FilterError{Path: path, Reason: "a filter must be a JSON object with one operator"}
	}
	if len(obj) != 1 {
		return Filter{}, &FilterError{Path: path, Reason: fmt.Sprintf("a filter must have exactly one operator, found %d", len(obj))}
	}
	var name string
	var body any
	for k, v := range obj {
		name, body = k, v
	}
	op := Op(name)
	if !ops[op] {
		return Filter{}, &FilterError{Path: path, Reason: fmt.Sprintf("unknown operator %s", strconv.Quote(truncate(name, 40)))}
	}
	path = join(path, name)
	if op == OpAndAll || op == OpOrAll {
		list, ok := body.([]any)
		if !ok {
			return Filter{}, &FilterError{Path: path, Reason: "must be a list of filters"}
		}
		if len(list) < minGroup {
			return Filter{}, &FilterError{Path: path, Reason: fmt.Sprintf("needs at least %d filters", minGroup)}
		}
		f := Filter{Op: op, Filter: make([]Filter, 0, len(list))}
		for i, item := range list {
			sub, err := parseNode(item, fmt.Sprintf("%s[%d]", path, i), depth+1, leaves)
			if err != nil {
				return Filter{}, err
			}
			f.Filter = append(f.Filter, sub)
		}
		return f, nil
	}
	*leaves++
	if *leaves > MaxFilterLeaves {
		return Filter{}, &FilterError{Path: path, Reason: fmt.Sprintf("more than %d comparisons", MaxFilterLeaves)}
	}
	attr, ok := body.(map[string]any)
	if !ok {
		return Filter{}, &FilterError{Path: path, Reason: `must be an object {"key": ..., "value": ...}`}
	}
	for k := range attr {
		if k != "key" && k != "value" {
			return Filter{}, &FilterError{Path: path, Reason: fmt.Sprintf("unknown field %s (want key and value)", strconv.Quote(truncate(k, 40)))}
		}
	}
	key, ok := attr["key"].(string)
	if !ok {
		return Filter{}, &FilterError{Path: join(path, "key"), Reason: "must be a string"}
	}
	value, present := attr["value"]
	if !present {
		return Filter{}, &FilterError{Path: join(path, "value"), Reason: "is missing"}
	}
	f := Filter{Op: op, Key: key, Value: value}
	if err := f.validateLeaf(path); err != nil {
		return Filter{}, err
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ValidateKey reports whether key may name a document attribute: 1 to
// MaxAttributeKey bytes of UTF-8 without control characters.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("is empty")
	case len(key) > MaxAttributeKey:
		return fmt.Errorf("longer than %d bytes", MaxAttributeKey)
	case !utf8.ValidString(key):
		return errors.New("is not UTF-8")
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		return errors.New("contains a control character")
	}
	return nil
}

func scalarKind(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case float64, int, int64:
		_ = x
		return "number"
	case nil:
		return "null"
	case []any:
		return "list"
	}
	return "object"
}

func checkScalar(v any, path string) error {
	switch k := scalarKind(v); k {
	case "string":
		if s := v.(string); len(s) > MaxAttributeValue {
			return &FilterError{Path: path, Reason: fmt.Sprintf("string longer than %d bytes", MaxAttributeValue)}
		}
	case "number":
		if _, err := numberText(v); err != nil {
			return &FilterError{Path: path, Reason: err.Error()}
		}
	case "boolean":
	default:
		return &FilterError{Path: path, Reason: "must be a string, number or boolean, not " + k}
	}
	return nil
}

// numberText returns a finite number's decimal text (json.Number as given).
func numberText(v any) (string, error) {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if len(s) > 64 {
			return "", errors.New("number too long")
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "", errors.New("number out of range")
		}
		return s, nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", errors.New("must be a number")
}

func (f Filter) validateLeaf(path string) error {
	if err := ValidateKey(f.Key); err != nil {
		return &FilterError{Path: join(path, "key"), Reason: err.Error()}
	}
	vp := join(path, "value")
	switch f.Op {
	case OpEquals, OpNotEquals, OpListContains:
		return checkScalar(f.Value, vp)
	case OpGreaterThan, OpGreaterThanOrEquals, OpLessThan, OpLessThanOrEquals:
		if scalarKind(f.Value) != "number" {
			return &FilterError{Path: vp, Reason: "must be a number"}
		}
		return checkScalar(f.Value, vp)
	case OpStartsWith, OpStringContains:
		if scalarKind(f.Value) != "string" {
			return &FilterError{Path: vp, Reason: "must be a string"}
		}
		return checkScalar(f.Value, vp)
	case OpIn, OpNotIn:
		list, ok := f.Value.([]any)
		if !ok {
			return &FilterError{Path: vp, Reason: "must be a list"}
		}
		if len(list) == 0 || len(list) > MaxFilterList {
			return &FilterError{Path: vp, Reason: fmt.Sprintf("must hold 1 to %d values", MaxFilterList)}
		}
		for i, v := range list {
			if err := checkScalar(v, fmt.Sprintf("%s[%d]", vp, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return &FilterError{Path: path, Reason: "not a comparison"}
}

// Validate checks a Filter built in Go (ParseFilter's result is valid).
func (f *Filter) Validate() error {
	if f == nil {
		return nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return &FilterError{Reason: "cannot encode: " + err.Error()}
	}
	_, err = ParseFilter(b)
	return err
}

// Equals and the other constructors build filters in Go.
func Equals(key string, value any) Filter { return Filter{Op: OpEquals, Key: key, Value: value} }

// In matches documents whose attribute equals one of values.
func In(key string, values ...any) Filter { return Filter{Op: OpIn, Key: key, Value: values} }

// AndAll matches documents that match every filter.
func AndAll(fs ...Filter) Filter { return Filter{Op: OpAndAll, Filter: fs} }

// OrAll matches documents that match any filter.
func OrAll(fs ...Filter) Filter { return Filter{Op: OpOrAll, Filter: fs} }

// sqlArgs collects bind parameters; a filter never inlines a key or value.
type sqlArgs struct{ vals []any }

func (a *sqlArgs) add(v any) string {
	a.vals = append(a.vals, v)
	return "$" + strconv.Itoa(len(a.vals))
}

// sql compiles f into a boolean SQL expression over the jsonb column col,
// with every key and value as a bind parameter. It never yields NULL.
func (f Filter) sql(col string, a *sqlArgs) string {
	switch f.Op {
	case OpAndAll, OpOrAll:
		sep := " AND "
		if f.Op == OpOrAll {
			sep = " OR "
		}
		parts := make([]string, len(f.Filter))
		for i, sub := range f.Filter {
			parts[i] = sub.sql(col, a)
		}
		return "(" + strings.Join(parts, sep) + ")"
	case OpEquals, OpNotEquals:
		p := a.add(containment(f.Key, f.Value))
		if f.Op == OpNotEquals {
			return "(NOT " + col + " @> " + p + "::jsonb)"
		}
		return "(" + col + " @> " + p + "::jsonb)"
	case OpListContains:
		return "(" + col + " @> " + a.add(containment(f.Key, []any{f.Value})) + "::jsonb)"
	case OpIn, OpNotIn:
		list := f.Value.([]any)
		docs := make([]string, len(list))
		for i, v := range list {
			docs[i] = containment(f.Key, v)
		}
		e := col + " @> ANY(" + a.add(docs) + "::jsonb[])"
		if f.Op == OpNotIn {
			return "(NOT " + e + ")"
		}
		return "(" + e + ")"
	case OpGreaterThan, OpGreaterThanOrEquals, OpLessThan, OpLessThanOrEquals:
		cmp := map[Op]string{OpGreaterThan: ">", OpGreaterThanOrEquals: ">=", OpLessThan: "<", OpLessThanOrEquals: "<="}[f.Op]
		n, _ := numberText(f.Value)
		k := a.add(f.Key)
		return "coalesce(CASE WHEN jsonb_typeof(" + col + " -> " + k + "::text) = 'number' THEN (" +
			col + " ->> " + k + "::text)::numeric " + cmp + " " + a.add(n) + "::numeric END, false)"
	case OpStartsWith, OpStringContains:
		k := a.add(f.Key)
		v := a.add(f.Value.(string))
		test := "starts_with(" + col + " ->> " + k + "::text, " + v + "::text)"
		if f.Op == OpStringContains {
			test = "strpos(" + col + " ->> " + k + "::text, " + v + "::text) > 0"
		}
		return "coalesce(CASE WHEN jsonb_typeof(" + col + " -> " + k + "::text) = 'string' THEN " + test + " END, false)"
	}
	return "false" // unreachable for a validated filter
}

// containment is the JSON document {key: value} for jsonb's @> operator.
func containment(key string, value any) string {
	b, _ := json.Marshal(map[string]any{key: value})
	return string(b)
}
