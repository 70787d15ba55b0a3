package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantry/tenantry/client"
	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
)

// countingSigner counts signatures: a refused request must sign nothing.
type countingSigner struct {
	inner client.Signer
	n     atomic.Int32
}

func (s *countingSigner) Sign(ctx context.Context, c client.Claims) (string, error) {
	s.n.Add(1)
	return s.inner.Sign(ctx, c)
}

// recordingSQS is an in-memory SQSSender.
type recordingSQS struct {
	bodies []string
	attrs  []map[string]sqstypes.MessageAttributeValue
	inputs []*sqs.SendMessageInput
	err    error
}

func (r *recordingSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.bodies = append(r.bodies, aws.ToString(in.MessageBody))
	r.attrs = append(r.attrs, in.MessageAttributes)
	r.inputs = append(r.inputs, in)
	return &sqs.SendMessageOutput{MessageId: aws.String(uuid.NewString())}, nil
}

func newClient(t *testing.T, kit *envelopetest.Kit, signer client.Signer, q client.SQSSender) *client.Client {
	t.Helper()
	cfg := client.Config{Signer: signer, Issuer: kit.Issuer, Audience: kit.Audience, TTL: time.Hour, Now: kit.Now}
	if q != nil {
		cfg.SQS, cfg.QueueURL = q, "https://sqs.example/q"
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// gate runs a message body through the worker's decoder and its one gate.
func gate(t *testing.T, kit *envelopetest.Kit, body string) (binding.Bound, *event.Job, error) {
	t.Helper()
	evs, err := event.Decode([]byte(body), nil)
	if err != nil {
		return binding.Bound{}, nil, err
	}
	if len(evs) != 1 || evs[0].Job == nil {
		t.Fatalf("decoded %+v", evs)
	}
	r := &binding.Resolver{Verifier: kit.Verifier(t)}
	b, err := r.Resolve(context.Background(), evs[0], "m-1")
	return b, evs[0].Job, err
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	signer, _ := client.GenerateKey(client.AlgES256, "")
	s3c := s3.NewPresignClient(s3.New(s3.Options{Region: "us-east-1"}))
	ok := client.Config{Signer: signer, Issuer: "https://api.example.com"}
	for _, tc := range []struct {
		name   string
		edit   func(*client.Config)
		reject string
	}{
		{"minimal", func(*client.Config) {}, ""},
		{"everything", func(c *client.Config) {
			c.S3, c.Bucket, c.SQS, c.QueueURL = s3c, "uploads", &recordingSQS{}, "https://sqs.example/q"
		}, ""},
		{"no signer", func(c *client.Config) { c.Signer = nil }, "Signer"},
		{"no issuer", func(c *client.Config) { c.Issuer = "" }, "Issuer"},
		{"ttl too long", func(c *client.Config) { c.TTL = 30 * 24 * time.Hour }, "TTL"},
		{"ttl negative", func(c *client.Config) { c.TTL = -time.Second }, "TTL"},
		{"bucket without S3", func(c *client.Config) { c.Bucket = "uploads" }, "S3 and Bucket"},
		{"S3 without bucket", func(c *client.Config) { c.S3 = s3c }, "S3 and Bucket"},
		{"queue without SQS", func(c *client.Config) { c.QueueURL = "https://sqs.example/q" }, "SQS and QueueURL"},
		{"url lifetime over S3's", func(c *client.Config) { c.URLExpires = 8 * 24 * time.Hour }, "URLExpires"},
		{"upload size over S3's", func(c *client.Config) { c.MaxUploadBytes = 6 << 30 }, "MaxUploadBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tc.edit(&cfg)
			_, err := client.New(cfg)
			if tc.reject == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, client.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.reject) {
				t.Fatalf("want ErrInvalidConfig about %s, got %v", tc.reject, err)
			}
		})
	}
}

// TestJobsPassTheGate: every job the SDK sends is accepted by the worker's
// decoder and gate, for the right tenant and action.
func TestJobsPassTheGate(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	q := &recordingSQS{}
	c := newClient(t, kit, kit.EdDSA, q)
	ctx := context.Background()
	tenant := uuid.New()
	key := tenant.String() + "/doc-1/report.pdf"
	for _, tc := range []struct {
		name string
		send func() (client.SentJob, error)
		act  envelope.Action
	}{
		{"ingest", func() (client.SentJob, error) { return c.Ingest(ctx, tenant, "svc:backfill", "uploads", key) }, envelope.ActionIngest},
		{"reindex", func() (client.SentJob, error) { return c.Reindex(ctx, tenant, "svc:cron", "doc-1", "titan-v2") }, envelope.ActionReindex},
		{"delete", func() (client.SentJob, error) { return c.Delete(ctx, tenant, "user:42", "doc-1") }, envelope.ActionDelete},
		{"purge", func() (client.SentJob, error) { return c.PurgeTenant(ctx, tenant, "admin:1") }, envelope.ActionPurge},
	} {
		sent, err := tc.send()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _, err := gate(t, kit, q.bodies[len(q.bodies)-1])
		if err != nil {
			t.Fatalf("%s: the gate refused the SDK's job: %v", tc.name, err)
		}
		if b.Verified.Scope.TenantID() != tenant || b.Verified.Claims.Action != tc.act || b.Verified.Claims.ID != sent.JobID {
			t.Fatalf("%s: verified %+v", tc.name, b.Verified.Claims)
		}
	}
}

// TestJobsAreGroupedByTenant: every job goes out with its tenant as the
// message group (SQS fair queues on a standard queue; per-tenant order on a
// FIFO queue), and on a FIFO queue with its job id as the deduplication id.
func TestJobsAreGroupedByTenant(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, queue string
		fifo        bool
	}{
		{"standard queue", "https://sqs.example/q", false},
		{"FIFO queue", "https://sqs.example/q.fifo", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := &recordingSQS{}
			cfg := client.Config{Signer: kit.EdDSA, Issuer: kit.Issuer, Audience: kit.Audience, TTL: time.Hour, Now: kit.Now,
				SQS: q, QueueURL: tc.queue}
			c, err := client.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			a, b := uuid.New(), uuid.New()
			var sent []client.SentJob
			for _, tn := range []uuid.UUID{a, b, a} {
				j, err := c.Reindex(ctx, tn, "svc:cron", "doc-1", "")
				if err != nil {
					t.Fatal(err)
				}
				sent = append(sent, j)
			}
			for i, in := range q.inputs {
				if got, want := aws.ToString(in.MessageGroupId), sent[i].Tenant.String(); got != want {
					t.Errorf("job %d: message group %q, want the tenant %q", i, got, want)
				}
				dedup := aws.ToString(in.MessageDeduplicationId)
				if tc.fifo && dedup != sent[i].JobID {
					t.Errorf("job %d: deduplication id %q, want the job id %q", i, dedup, sent[i].JobID)
				}
				if !tc.fifo && dedup != "" {
					t.Errorf("job %d: deduplication id %q on a standard queue", i, dedup)
				}
			}
		})
	}
}

// TestTamperedJobsAreRefused is the attacker's side of a captured job: a
// changed job field, a job moved to another document or type, or an
// envelope lifted into another job is refused by the gate.
func TestTamperedJobsAreRefused(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	c := newClient(t, kit, kit.ES256, nil)
	ctx := context.Background()
	tenant := uuid.New()
	reindex, err := c.SignJob(ctx, tenant, "svc:cron", client.Job{Type: client.JobReindex, DocumentID: "doc-1"})
	if err != nil {
		t.Fatal(err)
	}
	del, err := c.SignJob(ctx, tenant, "user:1", client.Job{Type: client.JobDelete, DocumentID: "doc-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body string }{
		{"other document", strings.Replace(reindex.Body, `"doc-1"`, `"doc-2"`, 1)},
		{"reindex turned into delete", strings.Replace(reindex.Body, `"reindex"`, `"delete"`, 1)},
		{"delete turned into purge", `{"envelope":"` + del.Envelope + `","job":{"type":"purge_tenant"}}`},
		{"white space added to the job", strings.Replace(reindex.Body, `"job":{`, `"job":{ `, 1)},
		{"envelope of another job", `{"envelope":"` + del.Envelope + `","job":{"type":"reindex","document_id":"doc-1"}}`},
	} {
		if _, _, err := gate(t, kit, tc.body); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, _, err := gate(t, kit, reindex.Body); err != nil {
		t.Fatalf("the untampered job is refused: %v", err)
	}
}

// TestRefusedBeforeSigning: input that names another tenant or a
// non-canonical key, or a job the worker would refuse, is ErrInvalidRequest
// and nothing is signed or sent.
func TestRefusedBeforeSigning(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	signer := &countingSigner{inner: kit.ES256}
	q := &recordingSQS{}
	c := newClient(t, kit, signer, q)
	ctx := context.Background()
	tenant, other := uuid.New(), uuid.New()
	ts := tenant.String()
	badKeys := []string{
		ts + "/../" + other.String() + "/doc-1/a.pdf",
		ts + "/./a.pdf",
		ts + "//a.pdf",
		ts + "/doc-1/sub/a.pdf",
		ts + "/doc-1/..\\a.pdf",
		ts + "/doc-1%2Fa.pdf/x",
		ts + "/\uff0e\uff0e/a.pdf",
		ts + "/doc-1/\u202ea.pdf",
		ts + "/doc-1/e\u0301.pdf",
		ts + "/doc-1/a\u0007.pdf",
		other.String() + "/doc-1/a.pdf",
		strings.ToUpper(ts) + "/doc-1/a.pdf",
		"",
	}
	type call struct {
		name string
		do   func() error
	}
	var calls []call
	for _, k := range badKeys {
		calls = append(calls,
			call{"object envelope " + k, func() error { _, err := c.ObjectEnvelope(ctx, tenant, "user:1", "uploads", k); return err }},
			call{"ingest " + k, func() error { _, err := c.Ingest(ctx, tenant, "user:1", "uploads", k); return err }})
	}
	good := ts + "/doc-1/a.pdf"
	calls = append(calls,
		call{"nil tenant", func() error { _, err := c.Reindex(ctx, uuid.Nil, "svc", "doc-1", ""); return err }},
		call{"nil tenant object", func() error { _, err := c.ObjectEnvelope(ctx, uuid.Nil, "u", "b", good); return err }},
		call{"nil tenant search", func() error { _, err := c.SearchEnvelope(ctx, uuid.Nil, "u"); return err }},
		call{"no actor", func() error { _, err := c.Delete(ctx, tenant, "", "doc-1"); return err }},
		call{"no bucket", func() error { _, err := c.ObjectEnvelope(ctx, tenant, "u", "", good); return err }},
		call{"unknown type", func() error { _, err := c.SendJob(ctx, tenant, "u", client.Job{Type: "drop_table"}); return err }},
		call{"purge naming a document", func() error {
			_, err := c.SendJob(ctx, tenant, "u", client.Job{Type: client.JobPurgeTenant, DocumentID: "doc-1"})
			return err
		}},
		call{"ingest with a document id", func() error {
			_, err := c.SendJob(ctx, tenant, "u", client.Job{Type: client.JobIngest, Bucket: "b", Key: good, DocumentID: "x"})
			return err
		}},
		call{"delete with a key", func() error {
			_, err := c.SendJob(ctx, tenant, "u", client.Job{Type: client.JobDelete, DocumentID: "d", Key: good})
			return err
		}},
		call{"delete with a model", func() error {
			_, err := c.SendJob(ctx, tenant, "u", client.Job{Type: client.JobDelete, DocumentID: "d", Model: "m"})
			return err
		}},
		call{"reindex without a document", func() error { _, err := c.Reindex(ctx, tenant, "u", "", ""); return err }},
		call{"document id with a control", func() error { _, err := c.Delete(ctx, tenant, "u", "doc\n1"); return err }},
		call{"document id too long", func() error { _, err := c.Delete(ctx, tenant, "u", strings.Repeat("d", 257)); return err }},
		call{"claims with a bad resource", func() error {
			_, err := c.Sign(ctx, c.Claims(tenant, "u", client.ActionDelete, "http://x"))
			return err
		}},
	)
	for _, tc := range calls {
		if err := tc.do(); !errors.Is(err, client.ErrInvalidRequest) {
			t.Errorf("%s: want ErrInvalidRequest, got %v", tc.name, err)
		}
	}
	if n := signer.n.Load(); n != 0 {
		t.Errorf("%d signatures for refused requests", n)
	}
	if len(q.bodies) != 0 {
		t.Errorf("%d messages sent for refused requests", len(q.bodies))
	}
}

func TestNotConfiguredAndSendErrors(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	ctx := context.Background()
	tenant := uuid.New()
	bare := newClient(t, kit, kit.ES256, nil)
	if _, err := bare.Delete(ctx, tenant, "u", "d"); !errors.Is(err, client.ErrNotConfigured) {
		t.Errorf("send without SQS: %v", err)
	}
	if _, err := bare.PresignUpload(ctx, client.UploadRequest{Tenant: tenant, Filename: "a.pdf", Actor: "u"}); !errors.Is(err, client.ErrNotConfigured) {
		t.Errorf("presign without S3: %v", err)
	}
	down := errors.New("connection refused")
	c := newClient(t, kit, kit.ES256, &recordingSQS{err: down})
	_, err := c.Delete(ctx, tenant, "u", "d")
	var se *client.SendError
	if !errors.As(err, &se) || !errors.Is(err, down) || errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("want *SendError wrapping the cause, got %v", err)
	}
}

// TestKMSSigner signs with a (fake) KMS key through the real KMS client;
// the worker's KMS key source verifies it.
func TestKMSSigner(t *testing.T) {
	t.Parallel()
	fake := envelopetest.NewKMS(t)
	arn := fake.CreateKey(t, "ECC_NIST_P256")
	fake.SetAlias("alias/tenantry-envelope", arn)
	kc := fake.Client()
	signer, err := client.NewKMSSigner(kc, "alias/tenantry-envelope", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Signer: signer, Issuer: "https://api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tenant := uuid.New()
	m, err := c.SignJob(ctx, tenant, "svc:cron", client.Job{Type: client.JobReindex, DocumentID: "doc-1"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := envelope.NewKMSKeySource(kc, envelope.KMSKeysConfig{KeyIDs: []string{arn}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := envelope.NewVerifier(envelope.Config{Audience: client.DefaultAudience, Issuers: []string{"https://api.example.com"}, Keys: keys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.Decode([]byte(m.Body), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&binding.Resolver{Verifier: v}).Resolve(ctx, evs[0], "m"); err != nil {
		t.Fatalf("KMS-signed job refused: %v", err)
	}
	jwk, err := client.PublicJWK(ctx, signer)
	if err != nil || !bytes.Contains(jwk, []byte(`"kty":"EC"`)) {
		t.Fatalf("public JWK %s, %v", jwk, err)
	}
	fake.SetDown(true)
	signer2, _ := client.NewKMSSigner(kc, arn, 0) // a fresh signer must ask KMS
	c2, _ := client.New(client.Config{Signer: signer2, Issuer: "https://api.example.com"})
	_, err = c2.SignJob(ctx, tenant, "u", client.Job{Type: client.JobDelete, DocumentID: "d"})
	var sErr *client.SignError
	if !errors.As(err, &sErr) {
		t.Fatalf("KMS down: want *SignError, got %v", err)
	}
}

func awsCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
}

// TestPresignedUploadAgainstS3 uploads through the local S3 server (which
// verifies SigV4) and checks that the stored object passes the gate, and
// that a changed envelope header or another tenant's key is refused by S3.
func TestPresignedUploadAgainstS3(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set (eval \"$(bash deploy/local/stack.sh env)\")")
	}
	ctx := context.Background()
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true, Credentials: awsCreds(), HTTPClient: testHTTP})
	bucket := "tenantry-client-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: o.Key})
			}
		}
		_, _ = s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	})
	kit := envelopetest.New(t)
	c, err := client.New(client.Config{Signer: kit.ES256, Issuer: kit.Issuer, Audience: kit.Audience, S3: s3.NewPresignClient(s3c), Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	tenant, other := uuid.New(), uuid.New()
	body := []byte("quarterly report")
	up, err := c.PresignUpload(ctx, client.UploadRequest{Tenant: tenant, Filename: "r.txt", Actor: "user:42", ContentType: "text/plain", ContentLength: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}

	// The attacker's side: the uploader changes what the URL signed.
	forged, _ := c.PresignUpload(ctx, client.UploadRequest{Tenant: other, Filename: "r.txt", Actor: "user:42", ContentType: "text/plain", ContentLength: int64(len(body))})
	swapped := up
	swapped.Header = up.Header.Clone()
	swapped.Header.Set("X-Amz-Meta-Tenantry-Envelope", forged.Envelope)
	moved := up
	moved.URL = strings.Replace(up.URL, tenant.String(), other.String(), 1)
	for name, bad := range map[string]client.PresignedUpload{"envelope of another tenant": swapped, "key of another tenant": moved} {
		err := client.Upload(ctx, testHTTP, bad, bytes.NewReader(body), int64(len(body)))
		var ue *client.UploadError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden || !errors.Is(err, client.ErrUploadRefused) {
			t.Errorf("%s: want 403 *UploadError, got %v", name, err)
		}
	}

	if err := client.Upload(ctx, testHTTP, up, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &up.Key})
	if err != nil {
		t.Fatal(err)
	}
	v := kit.Verifier(t)
	got, err := v.VerifyObject(ctx, head.Metadata[envelope.MetadataKey], bucket, up.Key)
	if err != nil || got.Scope.TenantID() != tenant {
		t.Fatalf("stored envelope: %v", err)
	}
	raw, _ := json.Marshal(up)
	for _, field := range []string{`"document_id"`, `"headers"`, `"expires"`} {
		if !bytes.Contains(raw, []byte(field)) {
			t.Errorf("presigned upload JSON lacks %s: %s", field, raw)
		}
	}
}

// TestSendJobToSQS sends a job to the local SQS server and runs what the
// worker receives through the gate.
func TestSendJobToSQS(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("TENANTRY_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_SQS_ENDPOINT not set (eval \"$(bash deploy/local/stack.sh env)\")")
	}
	ctx := context.Background()
	sqsc := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: awsCreds(), HTTPClient: testHTTP})
	name := "tenantry-client-" + uuid.NewString()[:8]
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = sqsc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	kit := envelopetest.New(t)
	c, err := client.New(client.Config{Signer: kit.ES256, Issuer: kit.Issuer, Audience: kit.Audience, SQS: sqsc, QueueURL: *q.QueueUrl})
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	sent, err := c.Reindex(ctx, tenant, "svc:cron", "doc-7", "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v (%d messages)", err, len(out.Messages))
	}
	if aws.ToString(out.Messages[0].MessageId) != sent.MessageID {
		t.Errorf("message id %s, sent %s", aws.ToString(out.Messages[0].MessageId), sent.MessageID)
	}
	b, j, err := gate(t, kit, aws.ToString(out.Messages[0].Body))
	if err != nil || b.Verified.Scope.TenantID() != tenant || j.DocumentID != "doc-7" {
		t.Fatalf("gate: %v", err)
	}
}

// TestSendJobCarriesTheCallersTrace: the producer's W3C trace context rides
// in the message attributes (the worker's span continues it); without one,
// no attribute is sent.
func TestSendJobCarriesTheCallersTrace(t *testing.T) {
	t.Parallel()
	kit := envelopetest.New(t)
	q := &recordingSQS{}
	c := newClient(t, kit, kit.EdDSA, q)
	tenant := uuid.New()
	if _, err := c.Delete(context.Background(), tenant, "user:42", "doc-1"); err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	if _, err := c.Delete(ctx, tenant, "user:42", "doc-2"); err != nil {
		t.Fatal(err)
	}
	if len(q.attrs) != 2 || len(q.attrs[0]) != 0 {
		t.Fatalf("attributes without a trace: %v", q.attrs)
	}
	tp := q.attrs[1]["traceparent"]
	if got := aws.ToString(tp.StringValue); !strings.Contains(got, sc.TraceID().String()) {
		t.Fatalf("traceparent %q, want trace %s", got, sc.TraceID())
	}
}
