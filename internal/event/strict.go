package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode"
)

// maxDepth bounds JSON nesting (S3 events nest 5 deep).
const maxDepth = 32

// checkJSON verifies that data is exactly one JSON value, nested at most
// maxDepth deep, with no object holding two keys that encoding/json would
// treat as the same field (case-insensitive). Duplicate keys are where two
// parsers disagree about what was signed or sent, so they are refused.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkJSON(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("trailing data after the JSON value")
	}
	return nil
}

func walkJSON(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return malformed("invalid JSON")
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	if depth >= maxDepth {
		return malformed("JSON nested deeper than %d", maxDepth)
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return malformed("invalid JSON")
			}
			key, ok := kt.(string)
			if !ok {
				return malformed("invalid JSON")
			}
			fk := foldKey(key)
			if seen[fk] {
				return malformed("duplicate JSON key")
			}
			seen[fk] = true
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
	default:
		return malformed("invalid JSON")
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return malformed("invalid JSON")
	}
	return nil
}

// foldKey maps every rune to the smallest rune of its simple case-folding
// orbit, so keys encoding/json would match case-insensitively ("key",
// "KEY", "\u212aey" with a Kelvin sign) fold to the same string.
func foldKey(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		lowest := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			lowest = min(lowest, f)
		}
		out = append(out, lowest)
	}
	return string(out)
}
