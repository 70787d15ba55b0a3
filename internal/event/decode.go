package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Defaults for Config.
const (
	DefaultMaxBodyBytes     = 256 << 10 // S3 notifications are at most 64 KB; jobs are small
	DefaultMaxRecords       = 100
	DefaultMaxEnvelopeBytes = 8 << 10
)

// Config bounds what a Decoder accepts. Zero fields take the defaults.
type Config struct {
	MaxBodyBytes     int // the message body
	MaxRecords       int // records in one S3 notification
	MaxEnvelopeBytes int // a job's compact JWS
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.MaxEnvelopeBytes == 0 {
		c.MaxEnvelopeBytes = DefaultMaxEnvelopeBytes
	}
	return c
}

// ErrInvalidConfig is wrapped by NewDecoder's validation errors.
var ErrInvalidConfig = errors.New("event: invalid config")

func (c Config) validate() error {
	if c.MaxBodyBytes < 0 || c.MaxRecords < 0 || c.MaxEnvelopeBytes < 0 {
		return fmt.Errorf("%w: negative limit", ErrInvalidConfig)
	}
	return nil
}

// Decoder decodes message bodies within its limits. It is safe for
// concurrent use.
type Decoder struct{ cfg Config }

// NewDecoder returns a Decoder with cfg's limits.
func NewDecoder(cfg Config) (*Decoder, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Decoder{cfg: cfg}, nil
}

var defaultDecoder = &Decoder{cfg: Config{}.withDefaults()}

// Decode decodes with the default limits; see Decoder.Decode.
func Decode(body []byte, attrs map[string]string) ([]Event, error) {
	return defaultDecoder.Decode(body, attrs)
}

// Decode decodes one message body and its string attributes into one or
// more events (several for a multi-record S3 notification). Errors are
// *Error values with a reason code; all are permanent.
func (d *Decoder) Decode(body []byte, attrs map[string]string) ([]Event, error) {
	if len(body) > d.cfg.MaxBodyBytes {
		return nil, newError(ReasonTooLarge, ErrTooLarge, "body of %d bytes exceeds %d", len(body), d.cfg.MaxBodyBytes)
	}
	if !utf8.Valid(body) {
		return nil, malformed("body is not valid UTF-8")
	}
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	if env, ok := attrs[AttrEnvelope]; ok {
		// The envelope is an attribute: the body is the job itself.
		job, err := d.decodeJob(body, env, EnvelopeInAttribute)
		if err != nil {
			return nil, err
		}
		return []Event{{Kind: KindJob, Shape: ShapeJob, Job: job}}, nil
	}
	top, err := object(body, "body")
	if err != nil {
		return nil, err
	}
	switch {
	case has(top, "Records"):
		return d.decodeRecords(top["Records"], ShapeS3)
	case has(top, "Type"):
		return d.decodeSNS(top)
	case has(top, "detail-type"):
		return d.decodeEventBridge(top)
	case has(top, "Event"):
		return decodeTestEvent(top, ShapeS3)
	case has(top, "envelope") || has(top, "job"):
		return d.decodeJobMessage(top)
	}
	return nil, unsupported("not an S3 notification, EventBridge event or job message")
}

// object decodes data as a JSON object with exact-case keys.
func object(data []byte, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, malformed("%s is not a JSON object", what)
	}
	return m, nil
}

func has(m map[string]json.RawMessage, key string) bool {
	_, ok := m[key]
	return ok
}

// str reads an optional string field; a present non-string is malformed.
func str(m map[string]json.RawMessage, key, what string) (string, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed("%s.%s is not a string", what, key)
	}
	return s, nil
}

// requiredStr reads a string field that must be present and non-empty.
func requiredStr(m map[string]json.RawMessage, key, what string) (string, error) {
	s, err := str(m, key, what)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", malformed("%s.%s is missing", what, key)
	}
	return s, nil
}

func child(m map[string]json.RawMessage, key, what string) (map[string]json.RawMessage, error) {
	raw, ok := m[key]
	if !ok {
		return nil, malformed("%s.%s is missing", what, key)
	}
	return object(raw, what+"."+key)
}

// size reads an optional non-negative integer, as a number or a string of
// digits (some emulators quote it).
func size(m map[string]json.RawMessage, key, what string) (int64, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	s := string(raw)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, malformed("%s.%s is not a non-negative integer", what, key)
	}
	return n, nil
}

func timestamp(m map[string]json.RawMessage, key, what string) (time.Time, error) {
	s, err := str(m, key, what)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, malformed("%s.%s is not an RFC 3339 time", what, key)
	}
	return t, nil
}

// validBucket checks S3's bucket naming rules (3-63 lower-case letters,
// digits, dots and hyphens, starting and ending with a letter or digit).
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' || (i == 0 || i == len(b)-1) && !alnum {
			return false
		}
	}
	return true
}

func sequencer(m map[string]json.RawMessage, what string) (string, error) {
	s, err := str(m, "sequencer", what)
	if err != nil || s == "" {
		return "", err
	}
	if !ValidSequencer(s) {
		return "", malformed("%s.sequencer is not a hex string", what)
	}
	return s, nil
}
