package event

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// maxLabel bounds document ids and model names.
const maxLabel = 256

// jobMessageFields are the only fields of a job message body.
var jobMessageFields = map[string]bool{"envelope": true, "job": true}

// decodeJobMessage decodes {"envelope": "<JWS>", "job": {...}}.
func (d *Decoder) decodeJobMessage(top map[string]json.RawMessage) ([]Event, error) {
	for k := range top {
		if !jobMessageFields[k] {
			return nil, malformed("job message has a field other than envelope and job")
		}
	}
	env, err := str(top, "envelope", "job message")
	if err != nil {
		return nil, err
	}
	if env == "" {
		return nil, newError(ReasonMalformedEnvelope, ErrMalformed, "job message has no envelope")
	}
	raw, ok := top["job"]
	if !ok {
		return nil, malformed("job message has no job")
	}
	job, err := d.decodeJob(raw, env, EnvelopeInBody)
	if err != nil {
		return nil, err
	}
	return []Event{{Kind: KindJob, Shape: ShapeJob, Job: job}}, nil
}

// decodeJob decodes the job object raw (kept byte for byte in Job.Raw) with
// its envelope.
func (d *Decoder) decodeJob(raw []byte, env, from string) (*Job, error) {
	if err := d.checkEnvelope(env); err != nil {
		return nil, err
	}
	m, err := object(raw, "job")
	if err != nil {
		return nil, err
	}
	if from == EnvelopeInAttribute && (has(m, "envelope") || has(m, "job")) {
		return nil, newError(ReasonMalformedEnvelope, ErrMalformed, "envelope both in the attribute and in the body")
	}
	typ, err := requiredStr(m, "type", "job")
	if err != nil {
		return nil, err
	}
	j := &Job{Type: JobType(typ), Envelope: env, EnvelopeFrom: from, Raw: json.RawMessage(raw)}
	if _, ok := ActionFor(j.Type); !ok {
		return nil, newError(ReasonUnsupportedJob, ErrUnsupported, "unknown job type")
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"document_id", &j.DocumentID}, {"bucket", &j.Bucket}, {"key", &j.Key}, {"model", &j.Model}} {
		if *f.dst, err = str(m, f.key, "job"); err != nil {
			return nil, err
		}
	}
	if err := validateJob(j); err != nil {
		return nil, err
	}
	return j, nil
}

func validateJob(j *Job) error {
	for _, f := range []struct{ name, v string }{{"document_id", j.DocumentID}, {"model", j.Model}} {
		if len(f.v) > maxLabel || !printable(f.v) {
			return malformed("job.%s is longer than %d bytes or not printable", f.name, maxLabel)
		}
	}
	if j.Bucket != "" && !validBucket(j.Bucket) {
		return malformed("job.bucket is not a valid bucket name")
	}
	if j.Key != "" {
		if err := checkKey(j.Key); err != nil {
			return err
		}
	}
	object := j.Bucket != "" && j.Key != ""
	if (j.Bucket == "") != (j.Key == "") {
		return malformed("job has a bucket without a key or a key without a bucket")
	}
	switch j.Type {
	case JobIngest:
		if !object {
			return malformed("ingest job needs bucket and key")
		}
	case JobReindex:
		if j.DocumentID == "" {
			return malformed("reindex job needs document_id")
		}
	case JobDelete:
		if j.DocumentID == "" && !object {
			return malformed("delete job needs document_id, or bucket and key")
		}
	case JobPurgeTenant:
		if j.DocumentID != "" || object {
			return malformed("purge_tenant job must not name a document")
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// checkEnvelope checks a compact JWS's shape only (three base64url parts,
// non-empty header and payload, bounded size); internal/envelope verifies
// it. A bad shape has its own reason (malformed_envelope), so the tenant
// wrapper can record it as a security event.
func (d *Decoder) checkEnvelope(env string) error {
	if env == "" {
		return newError(ReasonMalformedEnvelope, ErrMalformed, "empty envelope")
	}
	if len(env) > d.cfg.MaxEnvelopeBytes {
		return newError(ReasonMalformedEnvelope, ErrMalformed, "envelope longer than %d bytes", d.cfg.MaxEnvelopeBytes)
	}
	parts := strings.Split(env, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return newError(ReasonMalformedEnvelope, ErrMalformed, "envelope is not a compact JWS")
	}
	for _, p := range parts {
		if strings.ContainsFunc(p, func(r rune) bool { return !isBase64URL(r) }) {
			return newError(ReasonMalformedEnvelope, ErrMalformed, "envelope is not base64url")
		}
	}
	return nil
}

func isBase64URL(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}
