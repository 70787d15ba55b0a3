package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/statemachine"
	"github.com/tenantry/tenantry/worker"
)

const (
	bucket   = "uploads"
	stranger = "not-served"
)

// memS3 is an in-memory S3 of one version per key: what objects.Reader
// reads and what the tasks write their intermediate data to.
type memS3 struct {
	mu   sync.Mutex
	objs map[string]memObject
}

type memObject struct {
	body        []byte
	contentType string
	meta        map[string]string
}

func (m *memS3) put(b, key, contentType string, body []byte, token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md := map[string]string{}
	if token != "" {
		md[objects.EnvelopeMetaKey] = token
	}
	m.objs[b+"/"+key] = memObject{body: body, contentType: contentType, meta: md}
}

func (m *memS3) get(in *string, key *string) (memObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[aws.ToString(in)+"/"+aws.ToString(key)]
	return o, ok
}

func (m *memS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	o, ok := m.get(in.Bucket, in.Key)
	if !ok {
		return nil, &s3types.NotFound{}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(o.body))), ContentType: aws.String(o.contentType), Metadata: o.meta, ETag: aws.String(`"e"`)}, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	o, ok := m.get(in.Bucket, in.Key)
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.body)), ContentLength: aws.Int64(int64(len(o.body))), ContentType: aws.String(o.contentType)}, nil
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] = memObject{body: body, contentType: aws.ToString(in.ContentType)}
	return &s3.PutObjectOutput{}, nil
}

func (m *memS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

// transports are the two paths from outside input to a Scope, built as
// internal/service builds them: one gate, the same stages.
type transports struct {
	s3    *memS3
	kit   *envelopetest.Kit
	sqs   *ingest.Handler
	sfn   *sfntask.Handler
	admin *pgx.Conn
	seq   int
}

func newTransports(t *testing.T) *transports {
	t.Helper()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	tr := &transports{s3: &memS3{objs: map[string]memObject{}}, kit: envelopetest.New(t), admin: tenantdbtest.Conn(t, db.AdminURL)}
	ex, err := extract.New(extract.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	ch, err := chunk.New(chunk.Config{MaxTokens: 64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := offline.New(offline.Config{Dims: 1024})
	if err != nil {
		t.Fatal(err)
	}
	obj := objects.New(tr.s3)
	gate := &binding.Resolver{Verifier: tr.kit.Verifier(t), Objects: obj, Buckets: []string{bucket}}
	store := pgstore.New(gw, nil)
	if tr.sqs, err = ingest.New(ingest.Config{}, ingest.Deps{DB: gw, Gate: gate, Objects: obj, Store: store,
		Processor: &pipeline.Processor{Fetcher: obj, Extractor: ex, Chunker: ch, Embedder: emb}}); err != nil {
		t.Fatal(err)
	}
	if tr.sfn, err = sfntask.New(sfntask.Config{}, sfntask.Deps{DB: gw, Gate: gate, Store: store, S3: tr.s3,
		SFN: noSFN{}, Extractor: ex, Chunker: ch, Embedder: emb}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// noSFN: the Express path (Invoke) answers through its return value.
type noSFN struct{ sfntask.SFNAPI }

// viaSQS delivers the S3 ObjectCreated notification of b/key to the worker
// path and returns the reason the runner would dead-letter it with ("" if
// it succeeded).
func (tr *transports) viaSQS(t *testing.T, b, key string) string {
	t.Helper()
	tr.seq++
	rec := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
		"eventTime": time.Now().UTC().Format(time.RFC3339),
		"s3": map[string]any{"s3SchemaVersion": "1.0", "bucket": map[string]any{"name": b},
			"object": map[string]any{"key": event.EncodeKey(key), "size": 1, "sequencer": fmt.Sprintf("%016X", tr.seq)}},
	}}}
	body, _ := json.Marshal(rec)
	err := tr.sqs.Handle(context.Background(), &worker.Message{ID: fmt.Sprintf("m-%d", tr.seq), Body: body})
	if err == nil {
		return ""
	}
	if !worker.IsPermanent(err) {
		t.Fatalf("SQS path: %s: transient outcome %v", key, err)
	}
	return worker.ReasonOf(err)
}

// viaSFN runs the Step Functions stages for b/key as the Lambda is invoked
// (verify, extract, chunk, embed, store) and returns the reason of the
// first failure ("" if every stage succeeded).
func (tr *transports) viaSFN(t *testing.T, b, key string) string {
	t.Helper()
	tr.seq++
	exec := fmt.Sprintf("exec-%d", tr.seq)
	invoke := func(task map[string]any) (json.RawMessage, *sfntask.Failure) {
		task["execution"] = exec
		payload, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		return tr.sfn.Invoke(context.Background(), payload)
	}
	out, f := invoke(map[string]any{"stage": "verify", "input": json.RawMessage(statemachine.Input{Bucket: b, Key: key}.JSON())})
	if f != nil {
		return failure(t, key, f)
	}
	doc := out
	if _, f := invoke(map[string]any{"stage": "extract", "doc": doc}); f != nil {
		return failure(t, key, f)
	}
	out, f = invoke(map[string]any{"stage": "chunk", "doc": doc})
	if f != nil {
		return failure(t, key, f)
	}
	var chunked sfntask.ChunkOutput
	if err := json.Unmarshal(out, &chunked); err != nil {
		t.Fatal(err)
	}
	for _, i := range chunked.Batches {
		if _, f := invoke(map[string]any{"stage": "embed", "doc": doc, "batch": i}); f != nil {
			return failure(t, key, f)
		}
	}
	if _, f := invoke(map[string]any{"stage": "store", "doc": doc}); f != nil {
		return failure(t, key, f)
	}
	return ""
}

func failure(t *testing.T, key string, f *sfntask.Failure) string {
	t.Helper()
	if f.Name == sfntask.ErrorTransient || f.Name == sfntask.ErrorThrottled {
		t.Fatalf("SFN path: %s: transient failure %+v", key, f)
	}
	return f.Reason
}

func (tr *transports) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := tr.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

type transportCase struct {
	name   string
	bucket string
	key    string
	reason string // the one reason both transports must give ("" success)
}

// TestTransportsAgree is the cross-transport conformance test: every
// hostile upload is refused by the SQS worker and by the Step Functions
// tasks with the same reason code, and the refused tenant has no row.
func TestTransportsAgree(t *testing.T) {
	t.Parallel()
	tr := newTransports(t)
	victim, attacker := uuid.New(), uuid.New()
	var cases []transportCase
	// Envelopes: the catalogue as the upload's signed metadata.
	for i, base := range tr.kit.Hostile(t, envelopetest.Target{Tenant: victim, Bucket: bucket, Key: victim.String() + "/probe/x.txt"}) {
		if base.Binding != envelopetest.BindObject {
			continue
		}
		key := fmt.Sprintf("%s/env-%d/plans.txt", victim, i)
		for _, c := range tr.kit.Hostile(t, envelopetest.Target{Tenant: victim, Bucket: bucket, Key: key}) {
			if c.Name != base.Name || !c.FitsS3Metadata() {
				continue
			}
			tr.s3.put(bucket, key, "text/plain", []byte("secret plans"), c.Token)
			cases = append(cases, transportCase{name: "envelope: " + c.Name, bucket: bucket, key: key, reason: string(c.Reason)})
		}
	}
	// Events: objects that are not what their event claims.
	at := func(doc string, tenant uuid.UUID) string { return tenant.String() + "/" + doc + "/x.txt" }
	tr.s3.put(bucket, at("bare", victim), "text/plain", []byte("no envelope"), "")
	tr.s3.put(bucket, at("borrowed", victim), "text/plain", []byte("x"), tr.kit.Object(t, victim, bucket, at("other", victim)))
	tr.s3.put(bucket, at("foreign", victim), "text/plain", []byte("x"), tr.kit.Object(t, attacker, bucket, at("foreign", attacker)))
	tr.s3.put(bucket, at("claims-victim", attacker), "text/plain", []byte("x"), tr.kit.Object(t, victim, bucket, at("claims-victim", attacker)))
	tr.s3.put(stranger, at("elsewhere", victim), "text/plain", []byte("x"), tr.kit.Object(t, victim, stranger, at("elsewhere", victim)))
	cases = append(cases,
		transportCase{name: "event: object without envelope", bucket: bucket, key: at("bare", victim), reason: binding.ReasonMissingEnvelope},
		transportCase{name: "event: another object's envelope", bucket: bucket, key: at("borrowed", victim), reason: "binding_mismatch"},
		transportCase{name: "event: another tenant's envelope", bucket: bucket, key: at("foreign", victim), reason: "binding_mismatch"},
		transportCase{name: "event: envelope for a key under another tenant", bucket: bucket, key: at("claims-victim", attacker), reason: "binding_mismatch"},
		transportCase{name: "event: bucket not served", bucket: stranger, key: at("elsewhere", victim), reason: binding.ReasonUnknownBucket},
		transportCase{name: "event: dot-dot key", bucket: bucket, key: victim.String() + "/../" + attacker.String() + "/x.txt", reason: "noncanonical_key"},
		transportCase{name: "event: empty document segment", bucket: bucket, key: victim.String() + "//x.txt", reason: "noncanonical_key"},
	)
	if len(cases) < 10 {
		t.Fatalf("only %d cases: the corpus did not load", len(cases))
	}
	for _, tc := range cases {
		sqsReason, sfnReason := tr.viaSQS(t, tc.bucket, tc.key), tr.viaSFN(t, tc.bucket, tc.key)
		t.Logf("%-60s %s", tc.name, sqsReason)
		if sqsReason != sfnReason || sqsReason != tc.reason {
			t.Errorf("%s: SQS worker %q, Step Functions %q, want %q from both", tc.name, sqsReason, sfnReason, tc.reason)
		}
	}
	for _, table := range []string{"documents", "chunks", "audit_events"} {
		if n := tr.count(t, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%s: %d rows after hostile uploads only", table, n)
		}
	}
	rejected := 0
	for _, tc := range cases {
		if tc.reason != binding.ReasonUnknownBucket {
			rejected++
		}
	}
	if n := tr.count(t, "SELECT count(*) FROM security_events"); n != 2*rejected {
		t.Errorf("security events %d, want %d (one per refused envelope per transport)", n, 2*rejected)
	}

	// Documents: a verified upload the pipeline refuses fails with the same
	// reason on both transports.
	docs := []struct {
		name, contentType string
		body              []byte
		reason            string
	}{
		{"an executable", "application/x-msdownload", []byte("MZ\x90\x00"), "unsupported_media_type"},
		{"an empty text", "text/plain", []byte("  \n\t \n"), "empty_document"},
		{"a text that is not UTF-8", "text/plain", []byte{0xff, 0xfe, 0xfd, 0x00, 0x81}, ""},
		{"a genuine document", "text/markdown", []byte("# Title\n\nSome text worth finding."), ""},
	}
	tenant := uuid.New()
	for i, d := range docs {
		for _, path := range []string{"sqs", "sfn"} {
			key := fmt.Sprintf("%s/doc-%d-%s/file", tenant, i, path)
			tr.s3.put(bucket, key, d.contentType, d.body, tr.kit.Object(t, tenant, bucket, key))
		}
	}
	for i, d := range docs {
		sqsReason := tr.viaSQS(t, bucket, fmt.Sprintf("%s/doc-%d-sqs/file", tenant, i))
		sfnReason := tr.viaSFN(t, bucket, fmt.Sprintf("%s/doc-%d-sfn/file", tenant, i))
		t.Logf("document %-51s %q", d.name, sqsReason)
		if sqsReason != sfnReason || d.reason != "" && sqsReason != d.reason {
			t.Errorf("document %s: SQS worker %q, Step Functions %q, want %q from both", d.name, sqsReason, sfnReason, d.reason)
		}
	}
	if n := tr.count(t, "SELECT count(*) FROM documents WHERE tenant_id <> $1", tenant); n != 0 {
		t.Errorf("%d documents of other tenants", n)
	}
}
