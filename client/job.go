package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/telemetry"
)

// JobType is a job's type.
type JobType string

// Job types.
const (
	JobIngest      JobType = "ingest"       // (re)ingest one object: Bucket and Key
	JobReindex     JobType = "reindex"      // re-chunk and re-embed a document: DocumentID (Model optional)
	JobDelete      JobType = "delete"       // delete a document: DocumentID
	JobPurgeTenant JobType = "purge_tenant" // delete everything of the tenant
)

// Job is one job for the worker. Which fields it needs depends on Type.
type Job struct {
	Type       JobType `json:"type"`
	DocumentID string  `json:"document_id,omitempty"`
	Bucket     string  `json:"bucket,omitempty"`
	Key        string  `json:"key,omitempty"`
	Model      string  `json:"model,omitempty"`
}

// purgeResource is the res claim of a purge (every document of the tenant).
const purgeResource = envelope.ResourcePrefixDoc + "*"

// action and resource return the envelope claims that bind j, after
// checking j's fields the same way the worker will.
func (j Job) bind(tenant uuid.UUID) (Action, string, error) {
	switch j.Type {
	case JobIngest:
		if j.Bucket == "" || j.DocumentID != "" {
			return "", "", invalid("an ingest job names Bucket and Key only")
		}
		k, err := envelope.ParseObjectKey(j.Key)
		if err != nil {
			return "", "", invalid("%w", err)
		}
		if k.Tenant != tenant {
			return "", "", invalid("object key is not under the tenant's prefix")
		}
		return ActionIngest, envelope.ObjectResource(j.Bucket, j.Key), nil
	case JobReindex, JobDelete:
		if !validDocumentID(j.DocumentID) || j.Bucket != "" || j.Key != "" {
			return "", "", invalid("a %s job names a DocumentID (printable, at most 256 bytes) only", j.Type)
		}
		if j.Type == JobDelete && j.Model != "" {
			return "", "", invalid("a delete job has no Model")
		}
		act := ActionReindex
		if j.Type == JobDelete {
			act = ActionDelete
		}
		return act, envelope.DocumentResource(j.DocumentID), nil
	case JobPurgeTenant:
		if j != (Job{Type: JobPurgeTenant}) {
			return "", "", invalid("a purge_tenant job has no other field")
		}
		return ActionPurge, purgeResource, nil
	}
	return "", "", invalid("unknown job type %q", j.Type)
}

// validDocumentID is the worker's rule for a job's document_id: non-empty,
// at most 256 bytes of UTF-8 without control characters.
func validDocumentID(s string) bool {
	return s != "" && len(s) <= 256 && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// JobMessage is a signed job: Body is the SQS message body
// {"envelope": "<JWS>", "job": {...}}; the envelope's bh claim binds the
// job's bytes exactly as they appear in Body.
type JobMessage struct {
	Tenant   uuid.UUID `json:"tenant_id"`
	Job      Job       `json:"job"`
	Envelope string    `json:"envelope"`
	Body     string    `json:"body"`
	// JobID is the envelope's jti: the job id in the worker's ledger and logs.
	JobID string `json:"job_id"`
}

// SignJob signs job for tenant on behalf of actor and returns the message
// to send, for producers that send with their own SQS code.
func (c *Client) SignJob(ctx context.Context, tenant uuid.UUID, actor string, job Job) (JobMessage, error) {
	if err := checkTenant(tenant); err != nil {
		return JobMessage{}, err
	}
	if actor == "" {
		return JobMessage{}, invalid("actor is required")
	}
	act, res, err := job.bind(tenant)
	if err != nil {
		return JobMessage{}, err
	}
	raw, err := json.Marshal(job)
	if err != nil {
		return JobMessage{}, fmt.Errorf("tenantry client: encode job: %w", err)
	}
	tok, claims, err := c.issuer.Job(ctx, tenant, actor, act, res, raw)
	if err != nil {
		return JobMessage{}, signError(err)
	}
	body, err := json.Marshal(struct {
		Envelope string          `json:"envelope"`
		Job      json.RawMessage `json:"job"`
	}{tok, raw})
	if err != nil {
		return JobMessage{}, fmt.Errorf("tenantry client: encode message: %w", err)
	}
	return JobMessage{Tenant: tenant, Job: job, Envelope: tok, Body: string(body), JobID: claims.ID}, nil
}

// SentJob is a job SQS accepted.
type SentJob struct {
	JobMessage
	MessageID string `json:"message_id"`
}

// SendJob signs job and sends it to Config.QueueURL. Errors matching
// ErrInvalidRequest are the caller's input; *SendError is SQS's refusal or
// an unreachable endpoint (safe to call SendJob again: the worker's writes
// are idempotent, and deletes and purges are single-use per envelope).
func (c *Client) SendJob(ctx context.Context, tenant uuid.UUID, actor string, job Job) (SentJob, error) {
	if c.cfg.SQS == nil {
		return SentJob{}, fmt.Errorf("%w: sending jobs needs Config.SQS and Config.QueueURL", ErrNotConfigured)
	}
	m, err := c.SignJob(ctx, tenant, actor, job)
	if err != nil {
		return SentJob{}, err
	}
	// The caller's trace context (W3C traceparent) rides in the message
	// attributes, so the worker's span continues the producer's trace.
	out, err := c.cfg.SQS.SendMessage(ctx, jobInput(ctx, c.cfg.QueueURL, tenant, m))
	if err != nil {
		return SentJob{}, &SendError{QueueURL: c.cfg.QueueURL, Err: err}
	}
	c.cfg.Logger.Debug("tenantry client: job sent", zap.String("tenant_id", tenant.String()), zap.String("job_id", m.JobID),
		zap.String("job_type", string(job.Type)), zap.String("message_id", aws.ToString(out.MessageId)))
	return SentJob{JobMessage: m, MessageID: aws.ToString(out.MessageId)}, nil
}

// Ingest asks the worker to (re)ingest s3://bucket/key (a canonical key
// under the tenant's prefix).
func (c *Client) Ingest(ctx context.Context, tenant uuid.UUID, actor, bucket, key string) (SentJob, error) {
	return c.SendJob(ctx, tenant, actor, Job{Type: JobIngest, Bucket: bucket, Key: key})
}

// Reindex asks the worker to re-chunk and re-embed a stored document
// (model "" keeps the worker's configured model).
func (c *Client) Reindex(ctx context.Context, tenant uuid.UUID, actor, documentID, model string) (SentJob, error) {
	return c.SendJob(ctx, tenant, actor, Job{Type: JobReindex, DocumentID: documentID, Model: model})
}

// Delete asks the worker to delete a document, its chunks and vectors.
func (c *Client) Delete(ctx context.Context, tenant uuid.UUID, actor, documentID string) (SentJob, error) {
	return c.SendJob(ctx, tenant, actor, Job{Type: JobDelete, DocumentID: documentID})
}

// PurgeTenant asks the worker to delete every document of the tenant.
func (c *Client) PurgeTenant(ctx context.Context, tenant uuid.UUID, actor string) (SentJob, error) {
	return c.SendJob(ctx, tenant, actor, Job{Type: JobPurgeTenant})
}

// jobInput is the SendMessage request of a signed job. Its message group
// is the tenant: on a standard queue that lets SQS fair queues tell tenants
// apart (a tenant with a backlog no longer delays the others' messages
// behind it in the queue; a queue without fair queueing ignores it), and
// on a FIFO queue each tenant's jobs keep their order without holding up
// other tenants'. A FIFO queue also gets the job id as the deduplication id
// (one per signed envelope). The group is a routing hint only: the worker
// takes the tenant from the verified envelope.
func jobInput(ctx context.Context, queueURL string, tenant uuid.UUID, m JobMessage) *sqs.SendMessageInput {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(m.Body),
		MessageAttributes: telemetry.InjectSQS(ctx, nil), MessageGroupId: aws.String(tenant.String())}
	if strings.HasSuffix(queueURL, ".fifo") {
		in.MessageDeduplicationId = aws.String(m.JobID)
	}
	return in
}
