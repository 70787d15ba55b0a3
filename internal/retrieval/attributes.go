package retrieval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/pipeline"
)

// ReasonBadMetadata: a document's attributes (S3 user metadata or its
// metadata sidecar) are not valid; the document fails permanently.
const ReasonBadMetadata = "bad_metadata"

// ErrInvalidAttributes is wrapped by every error about document attributes.
var ErrInvalidAttributes = errors.New("retrieval: invalid document attributes")

// Limits of a document's attributes (Bedrock KB allows a 10 KB sidecar).
const (
	MaxSidecarBytes = 10 << 10
	MaxAttributes   = 50
)

// SidecarSuffix names a document's metadata file: the object "a.pdf" has
// its attributes in "a.pdf.metadata.json" (objects.SidecarSuffix).
const SidecarSuffix = objects.SidecarSuffix

// IsSidecar reports whether key names a metadata sidecar (not a document).
func IsSidecar(key string) bool { return objects.IsSidecar(key) }

// AttributePrefix marks the S3 user metadata keys and object tag keys that
// are document attributes: x-amz-meta-tenantry-attr-team: finance, or the
// tag tenantry-attr-team=finance, is the attribute "team". Other metadata
// and tags are not attributes (they belong to other tools).
const AttributePrefix = "tenantry-attr-"

// DocumentAttributes builds a document's attributes from its S3 object tags
// and user metadata whose keys start with AttributePrefix (the rest of the
// key, lower case, names the attribute; values are strings) and from its
// optional sidecar in Bedrock's shape. Where several name a key the sidecar
// wins over the metadata, the metadata over the tags:
//
//	{"metadataAttributes": {"year": 2024, "team": "finance", "tags": ["a", "b"]}}
//
// Bedrock's typed form is accepted as well:
//
//	{"metadataAttributes": {"year": {"value": {"type": "NUMBER", "numberValue": 2024}}}}
//
// Values are strings, finite numbers, booleans or lists of strings. The
// result is nil when there are no attributes.
func DocumentAttributes(meta, tags map[string]string, sidecar []byte) (map[string]any, error) {
	out := map[string]any{}
	for _, src := range []struct {
		what string
		kv   map[string]string
	}{{"S3 tag", tags}, {"S3 metadata", meta}} {
		for k, v := range src.kv {
			if len(k) < len(AttributePrefix) || !strings.EqualFold(k[:len(AttributePrefix)], AttributePrefix) {
				continue
			}
			k = strings.ToLower(k[len(AttributePrefix):])
			if err := ValidateKey(k); err != nil {
				return nil, fmt.Errorf("%w: %s key %w", ErrInvalidAttributes, src.what, err)
			}
			if len(v) > MaxAttributeValue || !utf8.ValidString(v) {
				return nil, fmt.Errorf("%w: %s %q: value too long or not UTF-8", ErrInvalidAttributes, src.what, truncate(k, 40))
			}
			out[k] = v
		}
	}
	if len(bytes.TrimSpace(sidecar)) > 0 {
		side, err := parseSidecar(sidecar)
		if err != nil {
			return nil, err
		}
		for k, v := range side {
			out[k] = v
		}
	}
	if len(out) > MaxAttributes {
		return nil, fmt.Errorf("%w: more than %d attributes", ErrInvalidAttributes, MaxAttributes)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// AttributeSource reads what a document's attributes are made of besides
// its user metadata (*objects.Reader, the one S3 reader).
type AttributeSource interface {
	// Tags reads an object version's tags.
	Tags(ctx context.Context, bucket, key, versionID string) (map[string]string, error)
	// ReadSmall reads a small object whole: nil, nil when it does not exist;
	// an error wrapping pipeline.ErrTooLarge above limit bytes.
	ReadSmall(ctx context.Context, bucket, key string, limit int64) ([]byte, error)
}

// ReadAttributes reads the attributes of the document stored as bucket/key
// (version versionID, "" for the current one) whose user metadata is meta
// (objects.Head.Metadata): its tags and its sidecar key+SidecarSuffix (at
// most MaxSidecarBytes) through src, then DocumentAttributes. The one way
// every transport (the SQS worker, the Step Functions tasks) reads them.
// Invalid attributes, a sidecar too large and an object with more tags than
// S3 allows wrap ErrInvalidAttributes (permanent: ReasonBadMetadata); other
// errors are src's, as it classified them.
func ReadAttributes(ctx context.Context, src AttributeSource, bucket, key, versionID string, meta map[string]string) (map[string]any, error) {
	tags, err := src.Tags(ctx, bucket, key, versionID)
	if errors.Is(err, pipeline.ErrMalformed) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidAttributes, err)
	}
	if err != nil {
		return nil, err
	}
	side, err := src.ReadSmall(ctx, bucket, key+SidecarSuffix, MaxSidecarBytes)
	if errors.Is(err, pipeline.ErrTooLarge) {
		return nil, fmt.Errorf("%w: sidecar larger than %d bytes", ErrInvalidAttributes, MaxSidecarBytes)
	}
	if err != nil {
		return nil, err
	}
	return DocumentAttributes(meta, tags, side)
}

func parseSidecar(data []byte) (map[string]any, error) {
	if len(data) > MaxSidecarBytes {
		return nil, fmt.Errorf("%w: sidecar larger than %d bytes", ErrInvalidAttributes, MaxSidecarBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc struct {
		MetadataAttributes map[string]json.RawMessage `json:"metadataAttributes"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: sidecar is not a JSON object with metadataAttributes", ErrInvalidAttributes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the sidecar", ErrInvalidAttributes)
	}
	out := map[string]any{}
	for k, raw := range doc.MetadataAttributes {
		if err := ValidateKey(k); err != nil {
			return nil, fmt.Errorf("%w: sidecar key %w", ErrInvalidAttributes, err)
		}
		v, err := attributeValue(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: sidecar attribute %q: %w", ErrInvalidAttributes, truncate(k, 40), err)
		}
		out[k] = v
	}
	return out, nil
}

func decodeNumber(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// attributeValue reads one value in the plain or the typed form.
func attributeValue(raw json.RawMessage) (any, error) {
	var v any
	if err := decodeNumber(raw, &v); err != nil {
		return nil, errors.New("malformed")
	}
	if obj, ok := v.(map[string]any); ok {
		return typedValue(obj)
	}
	return plainValue(v)
}

func plainValue(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if len(x) > MaxAttributeValue {
			return nil, fmt.Errorf("string longer than %d bytes", MaxAttributeValue)
		}
		return x, nil
	case bool:
		return x, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || len(x) > 64 {
			return nil, errors.New("number out of range")
		}
		return x, nil
	case []any:
		if len(x) > MaxFilterList {
			return nil, fmt.Errorf("list longer than %d", MaxFilterList)
		}
		for _, e := range x {
			s, ok := e.(string)
			if !ok || len(s) > MaxAttributeValue {
				return nil, errors.New("a list must hold strings")
			}
		}
		return x, nil
	}
	return nil, errors.New("must be a string, number, boolean or list of strings")
}

// typedValue reads {"value": {"type": "STRING", "stringValue": "..."}, ...}.
func typedValue(obj map[string]any) (any, error) {
	val, ok := obj["value"].(map[string]any)
	if !ok {
		return nil, errors.New(`typed form needs "value": {"type": ...}`)
	}
	field := map[string]string{"STRING": "stringValue", "NUMBER": "numberValue", "BOOLEAN": "booleanValue", "STRING_LIST": "stringListValue"}
	typ, _ := val["type"].(string)
	name, ok := field[typ]
	if !ok {
		return nil, errors.New("type must be STRING, NUMBER, BOOLEAN or STRING_LIST")
	}
	v, present := val[name]
	if !present {
		return nil, fmt.Errorf("type %s needs %s", typ, name)
	}
	want := map[string]string{"STRING": "string", "NUMBER": "number", "BOOLEAN": "boolean", "STRING_LIST": "list"}[typ]
	if scalarKind(v) != want {
		return nil, fmt.Errorf("%s is not a %s", name, want)
	}
	return plainValue(v)
}
