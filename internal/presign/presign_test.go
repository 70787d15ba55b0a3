package presign_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/presign"
)

// s3Client returns a real S3 client for the local server, skipping when
// TENANTRY_S3_ENDPOINT is unset.
func s3Client(t *testing.T) *s3.Client {
	t.Helper()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set (eval \"$(bash deploy/local/stack.sh env)\")")
	}
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		HTTPClient:   testHTTP,
	})
}

// testBucket creates a uniquely named bucket and deletes it (and its
// objects) when the test ends.
func testBucket(t *testing.T, c *s3.Client) string {
	t.Helper()
	ctx := context.Background()
	name := "tenantry-presign-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	t.Cleanup(func() {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &name})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: o.Key})
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name}); err != nil {
			t.Errorf("delete bucket %s: %v", name, err)
		}
	})
	return name
}

func newPresigner(t *testing.T, c *s3.Client, k *envelopetest.Kit, bucket string, now func() time.Time) *presign.Presigner {
	t.Helper()
	p, err := presign.New(s3.NewPresignClient(c), k.NewIssuer(t), presign.Config{Bucket: bucket, Now: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(t *testing.T, c *s3.Client, bucket, key string) (map[string]string, bool) {
	t.Helper()
	out, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		var nf *types.NotFound
		if errors.As(err, &nf) || strings.Contains(err.Error(), "404") {
			return nil, false
		}
		t.Fatalf("head: %v", err)
	}
	return out.Metadata, true
}

// TestPresignedUploadAgainstS3 runs against the local S3 server, which
// verifies SigV4 itself: the URL works as issued, and every change an
// uploader could make is refused by the server, leaving no object.
func TestPresignedUploadAgainstS3(t *testing.T) {
	t.Parallel()
	c := s3Client(t)
	bucket := testBucket(t, c)
	k := envelopetest.New(t)
	p := newPresigner(t, c, k, bucket, nil)
	ctx := context.Background()
	tenant, other := uuid.New(), uuid.New()
	data := []byte("# Quarterly notes\nrevenue up\n")

	issue := func(t *testing.T, name string, size int64) presign.Presigned {
		t.Helper()
		up, err := p.Presign(ctx, presign.Request{TenantID: tenant, Filename: name, Actor: "user:7", ContentType: "text/markdown", ContentLength: size})
		if err != nil {
			t.Fatal(err)
		}
		return up
	}

	t.Run("works as issued and the stored envelope verifies", func(t *testing.T) {
		t.Parallel()
		up := issue(t, "notes.md", int64(len(data)))
		if err := presign.Upload(ctx, testHTTP, up, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		meta, ok := exists(t, c, bucket, up.Key)
		if !ok {
			t.Fatal("object missing")
		}
		got, err := k.Verifier(t).VerifyObject(ctx, meta[envelope.MetadataKey], bucket, up.Key)
		if err != nil {
			t.Fatalf("stored envelope: %v", err)
		}
		if got.Scope.TenantID() != tenant || !strings.HasPrefix(up.Key, tenant.String()+"/"+up.DocumentID+"/") {
			t.Fatalf("scope %s key %s", got.Scope, up.Key)
		}
	})

	refusals := []struct {
		name   string
		mutate func(up *presign.Presigned) (body []byte)
	}{
		{"envelope header replaced by another valid envelope", func(up *presign.Presigned) []byte {
			up.Header.Set(envelope.MetadataHeader, k.Object(t, other, bucket, other.String()+"/d/notes.md"))
			return data
		}},
		{"envelope header tampered", func(up *presign.Presigned) []byte {
			up.Header.Set(envelope.MetadataHeader, up.Header.Get(envelope.MetadataHeader)+"x")
			return data
		}},
		{"envelope header dropped", func(up *presign.Presigned) []byte {
			up.Header.Del(envelope.MetadataHeader)
			return data
		}},
		{"envelope header sent twice", func(up *presign.Presigned) []byte {
			up.Header.Add(envelope.MetadataHeader, k.Object(t, other, bucket, other.String()+"/d/notes.md"))
			return data
		}},
		{"key changed to another tenant", func(up *presign.Presigned) []byte {
			up.URL = strings.Replace(up.URL, tenant.String(), other.String(), 1)
			up.Key = strings.Replace(up.Key, tenant.String(), other.String(), 1)
			return data
		}},
		{"key changed within the tenant", func(up *presign.Presigned) []byte {
			u, _ := url.Parse(up.URL)
			u.Path += ".exe"
			up.URL, up.Key = u.String(), up.Key+".exe"
			return data
		}},
		{"content type changed", func(up *presign.Presigned) []byte {
			up.Header.Set("Content-Type", "text/html")
			return data
		}},
		{"body longer than the signed size", func(up *presign.Presigned) []byte {
			up.Header.Del("Content-Length")
			return append(append([]byte{}, data...), "more"...)
		}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := issue(t, "notes.md", int64(len(data)))
			body := tt.mutate(&up)
			err := presign.Upload(ctx, testHTTP, up, bytes.NewReader(body), int64(len(body)))
			var ue *presign.UploadError
			if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden || ue.Retryable() {
				t.Fatalf("want a 403 refusal by the server, got %v", err)
			}
			t.Logf("server refused: %v", err)
			if _, ok := exists(t, c, bucket, up.Key); ok {
				t.Fatal("a refused upload left an object")
			}
		})
	}

	t.Run("expired URL", func(t *testing.T) {
		t.Parallel()
		past := newPresigner(t, c, k, bucket, func() time.Time { return time.Now().Add(-time.Hour) })
		up, err := past.Presign(ctx, presign.Request{TenantID: tenant, Filename: "late.md", Actor: "user:7"})
		if err != nil {
			t.Fatal(err)
		}
		err = presign.Upload(ctx, testHTTP, up, bytes.NewReader(data), int64(len(data)))
		var ue *presign.UploadError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden {
			t.Fatalf("want 403 for an expired URL, got %v", err)
		}
		if _, ok := exists(t, c, bucket, up.Key); ok {
			t.Fatal("expired URL stored an object")
		}
	})
}

func TestPresignRefusesBadRequests(t *testing.T) {
	t.Parallel()
	k := envelopetest.New(t)
	p, err := presign.New(s3.NewPresignClient(s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})), k.NewIssuer(t), presign.Config{Bucket: "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	ok := presign.Request{TenantID: tenant, DocumentID: "doc-1", Filename: "a.pdf", Actor: "user:1"}
	if _, err := p.Presign(context.Background(), ok); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	tests := []struct {
		name string
		mut  func(*presign.Request)
	}{
		{"nil tenant", func(r *presign.Request) { r.TenantID = uuid.Nil }},
		{"filename with slash", func(r *presign.Request) { r.Filename = "../other/a.pdf" }},
		{"filename dot dot", func(r *presign.Request) { r.Filename = ".." }},
		{"filename with backslash", func(r *presign.Request) { r.Filename = `a\b` }},
		{"filename with newline", func(r *presign.Request) { r.Filename = "a\nb" }},
		{"filename with C1 control", func(r *presign.Request) { r.Filename = "a\u0085b" }},
		{"filename not UTF-8", func(r *presign.Request) { r.Filename = "a\xffb" }},
		{"filename too long", func(r *presign.Request) { r.Filename = strings.Repeat("a", 256) }},
		{"empty filename", func(r *presign.Request) { r.Filename = "" }},
		{"document id with slash", func(r *presign.Request) { r.DocumentID = "a/b" }},
		{"document id dot", func(r *presign.Request) { r.DocumentID = "." }},
		{"document id too long", func(r *presign.Request) { r.DocumentID = strings.Repeat("d", 129) }},
		{"no actor", func(r *presign.Request) { r.Actor = "" }},
		{"content type with newline", func(r *presign.Request) { r.ContentType = "text/plain\r\nX-Evil: 1" }},
		{"negative size", func(r *presign.Request) { r.ContentLength = -1 }},
		{"size above 5 GiB", func(r *presign.Request) { r.ContentLength = 6 << 30 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.mut(&r)
			if _, err := p.Presign(context.Background(), r); !errors.Is(err, presign.ErrInvalidRequest) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestPresignedShape(t *testing.T) {
	t.Parallel()
	k := envelopetest.New(t)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	p, _ := presign.New(s3.NewPresignClient(s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("https://s3.test"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})), k.NewIssuer(t), presign.Config{Bucket: "uploads", Now: func() time.Time { return now }}, nil)
	tenant := uuid.New()
	up, err := p.Presign(context.Background(), presign.Request{TenantID: tenant, DocumentID: "d1", Filename: "Q1 report (final).pdf", Actor: "user:1", ContentType: "application/pdf", ContentLength: 1234})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(up.URL)
	q := u.Query()
	signed := q.Get("X-Amz-SignedHeaders")
	for _, h := range []string{"content-length", "content-type", "host", "x-amz-meta-tenantry-envelope"} {
		if !strings.Contains(signed, h) {
			t.Errorf("%s is not signed (%s)", h, signed)
		}
	}
	if q.Get("X-Amz-Date") != "20260501T100000Z" || q.Get("X-Amz-Expires") != "900" || !up.Expires.Equal(now.Add(15*time.Minute)) {
		t.Errorf("date %s expires %s / %s", q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), up.Expires)
	}
	if q.Has("x-amz-meta-tenantry-envelope") || strings.Contains(up.URL, up.Envelope) {
		t.Error("the envelope went into the URL instead of a signed header")
	}
	if up.Key != tenant.String()+"/d1/Q1 report (final).pdf" || up.Method != http.MethodPut {
		t.Errorf("key %q method %q", up.Key, up.Method)
	}
	if up.Header.Get("Content-Type") != "application/pdf" || up.Header.Get(envelope.MetadataHeader) != up.Envelope {
		t.Errorf("headers %v", up.Header)
	}
}
