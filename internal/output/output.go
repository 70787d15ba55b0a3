package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
)

// Format is a value of --output.
type Format string

// Formats.
const (
	Table Format = "table"
	JSON  Format = "json"
)

// Formats lists the --output values (the kong enum).
const Formats = "table,json"

// IsJSON reports whether f asks for JSON.
func (f Format) IsJSON() bool { return f == JSON }

// WriteJSON writes v as indented JSON, HTML characters unescaped.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Write writes one result: indented JSON, or a two-column table of its
// top-level fields in their JSON order (nested values as compact JSON).
func Write(w io.Writer, f Format, v any) error {
	if f.IsJSON() {
		return WriteJSON(w, v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fields, err := orderedFields(raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// orderedFields returns the fields of a JSON object as [name, value]
// pairs, strings unquoted; a non-object is one pair named "value".
func orderedFields(raw []byte) ([][2]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return [][2]string{{"value", cell(raw)}}, nil
	}
	var out [][2]string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		out = append(out, [2]string{fmt.Sprint(key), cell(val)})
	}
	return out, nil
}

func cell(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var compact bytes.Buffer
	if json.Compact(&compact, raw) == nil {
		return compact.String()
	}
	return string(raw)
}

var snakeCase = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// SnakeCaseViolations returns every object key of the JSON documents in
// data (one or more, e.g. JSON lines) that is not snake_case, except under
// the named pass-through keys (documents whose keys are user data, such as
// a document's metadata attributes or HTTP header names).
func SnakeCaseViolations(data []byte, passThrough ...string) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var bad []string
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return bad, nil
		}
		if err != nil {
			return bad, err
		}
		walk(v, "", passThrough, &bad)
	}
}

func walk(v any, path string, pass []string, bad *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if !snakeCase.MatchString(k) {
				*bad = append(*bad, strings.TrimPrefix(path+"."+k, "."))
			}
			skip := false
			for _, p := range pass {
				skip = skip || p == k
			}
			if !skip {
				walk(child, path+"."+k, pass, bad)
			}
		}
	case []any:
		for _, child := range x {
			walk(child, path+"[]", pass, bad)
		}
	}
}
