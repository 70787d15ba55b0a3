package dlq_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/worker"
)

// newBucket creates a uniquely named bucket on the local S3 server (deleted
// with its objects at cleanup), or skips.
func newBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set")
	}
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
	})
	name := "tenantry-dlqtest-" + randomHex(6)
	if _, err := c.CreateBucket(opCtx(t), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("delete bucket %s: %v", name, err)
		}
	})
	return c, name
}

// TestS3EventMessages: for S3 notifications the tenant comes from the
// uploaded object's verified envelope (HeadObject on the real local S3
// server), never from the key alone.
func TestS3EventMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	s3c, b := newBucket(t)
	f.resolver.Objects = objects.New(s3c)
	put := func(key, env string) {
		in := &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: strings.NewReader("hello")}
		if env != "" {
			in.Metadata = map[string]string{envelope.MetadataKey: env}
		}
		if _, err := s3c.PutObject(opCtx(t), in); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
	}
	event := func(key string) string {
		return strings.ReplaceAll(s3Event("ObjectCreated:Put", key), bucket, b)
	}
	good := f.tenantA.String() + "/doc-1/report 2026.pdf"
	put(good, f.kit.Object(t, f.tenantA, b, good))
	// An object under tenant B's prefix whose metadata carries tenant A's
	// envelope for another key: the key alone must not make it B's.
	stolen := f.tenantB.String() + "/doc-2/x.txt"
	put(stolen, f.kit.Object(t, f.tenantA, b, f.tenantA.String()+"/doc-1/report 2026.pdf"))
	bare := f.tenantA.String() + "/doc-3/bare.txt"
	put(bare, "")
	for _, k := range []string{good, stolen, bare, f.tenantA.String() + "/doc-4/gone.txt"} {
		f.deadLetter(t, event(k), nil, worker.DeadLetterInfo{Reason: "handler_failed", Stage: "extract"})
	}
	// A removal of tenant B's object that S3 confirms is gone: B's, by the
	// worker's rule for removals (envelope.VerifyRemoval).
	removed := f.tenantB.String() + "/doc-5/old.txt"
	f.deadLetter(t, strings.ReplaceAll(s3Event("ObjectRemoved:Delete", removed), bucket, b), nil, worker.DeadLetterInfo{Reason: "handler_failed", Stage: "store"})
	in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: f.dlqURL}, f.client, f.resolver, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := in.Inspect(opCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	verified, reasons := 0, map[string]int{}
	for _, m := range rep.Messages {
		if m.Verified {
			verified++
			ok := m.Tenant == f.tenantA && m.Resource == envelope.ObjectResource(b, good) && m.Action == "ingest" ||
				m.Tenant == f.tenantB && m.Resource == envelope.ObjectResource(b, removed) && m.Action == "delete"
			if !ok || (m.Action == "ingest") != !m.Expires.IsZero() {
				t.Errorf("verified message: %+v", m)
			}
			continue
		}
		reasons[m.UnverifiedReason]++
	}
	if verified != 2 || reasons["binding_mismatch"] != 1 || reasons[binding.ReasonMissingEnvelope] != 1 || reasons[binding.ReasonObjectUnavailable] != 1 {
		t.Fatalf("verified %d, unverified %v", verified, reasons)
	}
	st, err := newReplayer(t, f, replayConfig(f), db).Replay(opCtx(t))
	if err != nil || st.Replayed != 2 || st.Rejected != 3 {
		t.Fatalf("replay: %+v, %v", st, err)
	}
	if rows := auditRows(t, db, f.tenantA); len(rows) != 1 || rows[0].Resource != envelope.ObjectResource(b, good) {
		t.Errorf("tenant A audit rows: %+v", rows)
	}
	if rows := auditRows(t, db, f.tenantB); len(rows) != 1 || rows[0].Resource != envelope.ObjectResource(b, removed) || rows[0].Actor != "alice" {
		t.Errorf("tenant B audit rows: %+v", rows)
	}
}
