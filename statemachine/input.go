package statemachine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tenantry/tenantry/internal/event"
)

// Input is tenantry's own execution input, written by `tenantry sfn start`
// and by replays. The definitions also accept, unchanged, the S3 "Object
// Created" event EventBridge delivers (the upload rule of deploy/aws needs no
// input transformer); ParseInput reads both into an Input.
//
// Nothing here is trusted: the first task verifies the envelope (Envelope,
// or else the one in the object's metadata) against Bucket and Key.
type Input struct {
	Bucket string `json:"bucket"`
	// Key is the object key, decoded (not URL-encoded as in S3 events).
	Key string `json:"key"`
	// VersionID pins the object version (versioned buckets).
	VersionID string `json:"versionId,omitempty"`
	// Sequencer orders events of one key (S3's hex sequencer).
	Sequencer string `json:"sequencer,omitempty"`
	// Envelope, if set, never replaces the object's
	// x-amz-meta-tenantry-envelope: it must be byte-identical to it, or
	// the task is refused (envelope_mismatch).
	Envelope string `json:"envelope,omitempty"`
	// Trace is the starter's W3C trace context (traceparent, tracestate):
	// the tasks' spans continue its trace. It is never trusted for
	// anything else.
	Trace map[string]string `json:"trace,omitempty"`
}

// MaxInputBytes bounds an execution input (Step Functions' own limit is
// 256 KiB; ours are well under 8 KiB).
const MaxInputBytes = 64 << 10

// ErrBadInput is wrapped by ParseInput's errors.
var ErrBadInput = errors.New("statemachine: bad execution input")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// ParseInput decodes an execution input: an EventBridge S3 "Object Created"
// event, or an Input. Other EventBridge events (deletions, other sources)
// are refused.
func ParseInput(raw []byte) (Input, error) {
	if len(raw) > MaxInputBytes {
		return Input{}, badInput("input larger than %d bytes", MaxInputBytes)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Input{}, badInput("input is not a JSON object")
	}
	if _, ok := probe["detail-type"]; ok {
		evs, err := event.Decode(raw, nil)
		if err != nil {
			return Input{}, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		if len(evs) != 1 || evs[0].Kind != event.KindObjectCreated || evs[0].Object == nil {
			return Input{}, badInput("only S3 Object Created events start the pipeline")
		}
		o := evs[0].Object
		in := Input{Bucket: o.Bucket, Key: o.Key, VersionID: o.VersionID, Sequencer: o.Sequencer}
		return in, in.Check()
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		return Input{}, badInput("input has unexpected fields or types")
	}
	if dec.More() {
		return Input{}, badInput("trailing data after the input")
	}
	return in, in.Check()
}

// Check validates the fields' shapes.
func (in Input) Check() error {
	switch {
	case in.Bucket == "" || len(in.Bucket) > 63 || strings.ContainsAny(in.Bucket, "/ "):
		return badInput("bucket is not a bucket name")
	case in.Key == "" || len(in.Key) > event.MaxKeyBytes || !utf8.ValidString(in.Key):
		return badInput("key must be 1..%d bytes of UTF-8", event.MaxKeyBytes)
	case len(in.VersionID) > 1024:
		return badInput("versionId too long")
	case in.Sequencer != "" && !event.ValidSequencer(in.Sequencer):
		return badInput("sequencer is not an S3 sequencer")
	case len(in.Envelope) > 16<<10:
		return badInput("envelope too long")
	case !ValidTrace(in.Trace):
		return badInput("trace must hold only traceparent and tracestate, each at most %d bytes", maxTraceValue)
	}
	return nil
}

// maxTraceValue bounds a trace-context value (W3C: traceparent is 55
// bytes, tracestate at most 32 members of 256).
const maxTraceValue = 512

// ValidTrace reports whether m is an acceptable trace object: nil, or only
// traceparent and tracestate with short printable values.
func ValidTrace(m map[string]string) bool {
	for k, v := range m {
		if k != "traceparent" && k != "tracestate" || len(v) > maxTraceValue {
			return false
		}
		for _, r := range v {
			if r < 0x20 || r > 0x7e {
				return false
			}
		}
	}
	return true
}

// JSON renders the input (for StartExecution).
func (in Input) JSON() string {
	b, _ := json.Marshal(in)
	return string(b)
}
