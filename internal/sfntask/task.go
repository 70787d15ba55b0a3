package sfntask

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/tenantry/tenantry/internal/event"
)

// Stage names a task state's work; it is the "stage" field of a task.
type Stage string

// Stages, in pipeline order.
const (
	StageVerify     Stage = "verify"
	StageExtract    Stage = "extract"
	StageChunk      Stage = "chunk"
	StageEmbed      Stage = "embed"
	StageStore      Stage = "store"
	StageFinalize   Stage = "finalize"
	StageMarkFailed Stage = "markfailed"
)

// Stages lists every stage.
func Stages() []Stage {
	return []Stage{StageVerify, StageExtract, StageChunk, StageEmbed, StageStore, StageFinalize, StageMarkFailed}
}

func (s Stage) valid() bool {
	for _, x := range Stages() {
		if s == x {
			return true
		}
	}
	return false
}

// Task is the SQS message body a task state sends (its MessageBody
// parameter). Nothing in it is trusted but the envelope's signature: the
// tenant comes from the verified envelope, the document from the key the
// envelope binds, intermediate keys from both.
type Task struct {
	// Token is Step Functions' task token ($$.Task.Token).
	Token string `json:"taskToken"`
	// Stage says which work to do.
	Stage Stage `json:"stage"`
	// Execution is the execution name ($$.Execution.Name); it scopes
	// intermediate objects.
	Execution string `json:"execution"`
	// Input is the execution input (verify only).
	Input json.RawMessage `json:"input,omitempty"`
	// Doc is Verify's output, carried in the state (every later stage).
	Doc *DocRef `json:"doc,omitempty"`
	// Batch is the chunk batch to embed (embed only).
	Batch *int `json:"batch,omitempty"`
	// Failure is what the Catch caught (markfailed only).
	Failure *CaughtError `json:"failure,omitempty"`
}

// DocRef identifies the verified object: Verify's output.
type DocRef struct {
	// Envelope is the compact JWS every later task re-verifies against
	// Bucket and Key. Empty before Verify succeeded.
	Envelope   string `json:"envelope"`
	Bucket     string `json:"bucket,omitempty"`
	Key        string `json:"key,omitempty"`
	VersionID  string `json:"versionId,omitempty"`
	Sequencer  string `json:"sequencer,omitempty"`
	MediaType  string `json:"mediaType,omitempty"`
	Size       int64  `json:"size,omitempty"`
	DocumentID string `json:"documentId,omitempty"`
	// Trace is the execution's trace context (from the start input), so
	// every later task's span joins the same trace.
	Trace map[string]string `json:"trace,omitempty"`
}

// CaughtError is a Catch's error output ({"Error", "Cause"}).
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Limits of a task message (SQS bodies are at most 256 KiB anyway).
const (
	maxTaskBytes  = 256 << 10
	maxTokenBytes = 2048 // Step Functions tokens are about 1 KB
	maxBatch      = 1 << 20
)

var executionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// ErrMalformedTask is wrapped by DecodeTask's errors.
var ErrMalformedTask = errors.New("sfntask: malformed task")

func malformedTask(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedTask, fmt.Sprintf(format, args...))
}

// DecodeToken returns the task token of body, if it has a usable one, so a
// task that is otherwise malformed can still be answered.
func DecodeToken(body []byte) (string, bool) {
	var t struct {
		Token string `json:"taskToken"`
	}
	if len(body) > maxTaskBytes || json.Unmarshal(body, &t) != nil {
		return "", false
	}
	return t.Token, validToken(t.Token)
}

func validToken(s string) bool {
	if s == "" || len(s) > maxTokenBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// DecodeTask parses and checks a task message. Unknown fields are refused:
// the message comes from our own definition, anything else is not ours.
func DecodeTask(body []byte) (*Task, error) { return decodeTask(body, true) }

// DecodeInvocation parses a task invoked synchronously (the Express
// variant's Lambda tasks): the same fields, without a task token.
func DecodeInvocation(body []byte) (*Task, error) { return decodeTask(body, false) }

func decodeTask(body []byte, withToken bool) (*Task, error) {
	if len(body) > maxTaskBytes {
		return nil, malformedTask("task is larger than %d bytes", maxTaskBytes)
	}
	if !utf8.Valid(body) {
		return nil, malformedTask("task is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var t Task
	if err := dec.Decode(&t); err != nil {
		return nil, malformedTask("task is not the expected JSON object")
	}
	if dec.More() {
		return nil, malformedTask("trailing data after the task")
	}
	if withToken && !validToken(t.Token) {
		return nil, malformedTask("missing or invalid task token")
	}
	if !withToken && t.Token != "" {
		return nil, malformedTask("an invocation carries no task token")
	}
	if !t.Stage.valid() {
		return nil, malformedTask("unknown stage")
	}
	if !executionNameRE.MatchString(t.Execution) {
		return nil, malformedTask("execution name must match %s", executionNameRE)
	}
	switch t.Stage {
	case StageVerify:
		if len(bytes.TrimSpace(t.Input)) == 0 {
			return nil, malformedTask("verify needs the execution input")
		}
	default:
		if t.Doc == nil {
			return nil, malformedTask("stage %s needs doc", t.Stage)
		}
		if err := t.Doc.check(t.Stage == StageMarkFailed); err != nil {
			return nil, err
		}
	}
	if t.Stage == StageEmbed && (t.Batch == nil || *t.Batch < 0 || *t.Batch >= maxBatch) {
		return nil, malformedTask("embed needs a batch index")
	}
	if t.Stage == StageMarkFailed && t.Failure == nil {
		return nil, malformedTask("markfailed needs the caught failure")
	}
	return &t, nil
}

// check validates a DocRef's shape (not its truth: that is the envelope's
// job). Before Verify succeeded only markfailed sees an empty envelope.
func (d *DocRef) check(allowUnverified bool) error {
	if d.Envelope == "" {
		if allowUnverified {
			return nil
		}
		return malformedTask("doc has no envelope")
	}
	switch {
	case d.Bucket == "" || d.Key == "":
		return malformedTask("doc needs bucket and key")
	case len(d.VersionID) > 1024 || len(d.MediaType) > 255 || len(d.DocumentID) > 1024:
		return malformedTask("doc field too long")
	case d.Sequencer != "" && !event.ValidSequencer(d.Sequencer):
		return malformedTask("doc sequencer is not hex")
	case d.Size < 0:
		return malformedTask("doc size is negative")
	}
	return nil
}
