// Package event decodes one SQS message body (and its string attributes)
// into typed events: S3 object notifications delivered to SQS directly,
// wrapped by SNS, or as EventBridge "Object Created"/"Object Deleted"
// events; the s3:TestEvent (an Ignore event); and tenantry job messages
// ({"envelope": "<compact JWS>", "job": {...}}, or the job as the body with
// the envelope in the tenantry-envelope attribute).
//
// It owns the wire formats: URL-encoded keys (decoded, invalid encodings
// rejected), sequencer ordering (SequencerLess), job types and the envelope
// action each requires, the raw job bytes the envelope's body hash covers,
// and input limits. Every rejection is an *Error with a stable reason code
// (malformed_event, unsupported_event, unsupported_job, malformed_envelope,
// too_large, bad_key_encoding); all of them are permanent.
//
// It must never verify envelopes or decide a tenant (internal/envelope and
// the worker's tenant wrapper do), touch the network, or put body contents
// (keys, document ids) into error messages.
package event
