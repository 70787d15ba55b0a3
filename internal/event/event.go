package event

import (
	"encoding/json"
	"time"
)

// Kind is what an event asks for.
type Kind uint8

// Kinds of events.
const (
	KindObjectCreated Kind = iota + 1 // an object was written: ingest it
	KindObjectRemoved                 // an object was deleted: delete the document
	KindJob                           // a job message (Event.Job)
	KindIgnore                        // nothing to do (Event.Ignore says why); ack the message
	KindObjectTagged                  // an object's tags changed: refresh its document's attributes
)

func (k Kind) String() string {
	switch k {
	case KindObjectCreated:
		return "object_created"
	case KindObjectRemoved:
		return "object_removed"
	case KindJob:
		return "job"
	case KindIgnore:
		return "ignore"
	case KindObjectTagged:
		return "object_tagged"
	}
	return "unknown"
}

// Shape is the wire format the event arrived in.
type Shape string

// Wire formats.
const (
	ShapeS3          Shape = "s3"          // S3 notification sent to SQS directly
	ShapeSNS         Shape = "sns"         // S3 notification wrapped by SNS
	ShapeEventBridge Shape = "eventbridge" // S3 event routed by EventBridge
	ShapeJob         Shape = "job"         // a tenantry job message
)

// Reasons for KindIgnore events.
const (
	IgnoreTestEvent     = "s3_test_event"        // sent by S3 when notifications are configured
	IgnoreUnhandledType = "unhandled_event_type" // an S3 event type tenantry does not act on (tagging, restore, ...)
)

// Event is one decoded event. A message can hold several (a multi-record S3
// notification); handle them in order.
type Event struct {
	Kind  Kind
	Shape Shape
	// Object is set for object events, and for KindIgnore events about
	// an object (IgnoreUnhandledType).
	Object *Object
	// Job is set for KindJob.
	Job *Job
	// Ignore says why a KindIgnore event needs no action.
	Ignore string
}

// Object is the object an S3 event is about.
type Object struct {
	Bucket string
	// Key is the decoded object key (S3 sends it URL-encoded).
	Key       string
	Size      int64 // 0 when absent (deletions)
	ETag      string
	VersionID string
	// Sequencer orders events of the same key (SequencerLess); "" when
	// absent.
	Sequencer string
	// EventName is the S3 event name ("ObjectCreated:Put") or the
	// EventBridge detail-type ("Object Created").
	EventName string
	// Reason is EventBridge's detail.reason ("PutObject",
	// "DeleteObject", ...); "" for S3 notifications.
	Reason string
	// DeleteMarker reports that the removal created a delete marker
	// (versioned bucket) rather than deleting a version.
	DeleteMarker bool
	EventTime    time.Time
	Region       string
}

// JobType is a job message's type.
type JobType string

// Job types.
const (
	JobIngest      JobType = "ingest"       // (re)ingest one object: bucket and key
	JobReindex     JobType = "reindex"      // re-chunk / re-embed a document: document_id (model optional)
	JobDelete      JobType = "delete"       // delete a document: document_id, or bucket and key
	JobPurgeTenant JobType = "purge_tenant" // delete everything of the envelope's tenant
)

// Envelope actions (the "act" of a tenant envelope) the job types require.
const (
	ActionIngest  = "ingest"
	ActionReindex = "reindex"
	ActionDelete  = "delete"
	ActionPurge   = "purge"
)

// ActionFor returns the envelope action a job type requires.
func ActionFor(t JobType) (string, bool) {
	switch t {
	case JobIngest:
		return ActionIngest, true
	case JobReindex:
		return ActionReindex, true
	case JobDelete:
		return ActionDelete, true
	case JobPurgeTenant:
		return ActionPurge, true
	}
	return "", false
}

// Where a job's envelope came from.
const (
	EnvelopeInBody      = "body"      // the "envelope" field of the body
	EnvelopeInAttribute = "attribute" // the tenantry-envelope message attribute
)

// AttrEnvelope is the SQS message attribute that may carry a job's envelope
// (the body is then the job itself).
const AttrEnvelope = "tenantry-envelope"

// Job is a decoded job message. Its fields are not trusted until the
// envelope is verified against Raw (body hash) and Action.
type Job struct {
	Type       JobType
	DocumentID string
	Bucket     string
	Key        string // not URL-encoded in jobs
	Model      string
	// Envelope is the compact JWS; EnvelopeFrom says where it was found.
	Envelope     string
	EnvelopeFrom string
	// Raw is the job JSON exactly as received: the bytes of the "job"
	// value, or the whole body when the envelope is an attribute. The
	// envelope's bh claim is the base64url SHA-256 of these bytes;
	// producers must hash exactly what they send.
	Raw json.RawMessage
}

// Action is the envelope action this job requires.
func (j *Job) Action() string {
	a, _ := ActionFor(j.Type)
	return a
}
