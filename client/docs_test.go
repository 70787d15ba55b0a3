package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/client"
	"github.com/tenantry/tenantry/internal/envelope"
)

const docPath = "../docs/envelope.md"

// docBlock returns the fenced code block that follows "<!-- doctest: name -->".
func docBlock(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- doctest: " + regexp.QuoteMeta(name) + " -->\n```[a-z]*\n(.*?)\n```").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs: no doctest block %q", name)
	}
	return string(m[1])
}

// run runs argv with extra environment and returns stdout, or the error
// and stderr.
func run(t *testing.T, argv []string, env ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// docStack is the local S3 server, a bucket of this test and a verifier
// trusting signer for https://api.example.com (the issuer of the examples).
type docStack struct {
	s3     *s3.Client
	bucket string
	v      *envelope.Verifier
}

func newDocStack(t *testing.T, signer *client.KeySigner) docStack {
	t.Helper()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set (eval \"$(bash deploy/local/stack.sh env)\")")
	}
	ctx := context.Background()
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true, Credentials: awsCreds(), HTTPClient: testHTTP})
	bucket := "tenantry-doc-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
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
	ring, err := envelope.NewKeyRing(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := envelope.NewVerifier(envelope.Config{Audience: "tenantry", Issuers: []string{"https://api.example.com"}, Keys: ring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return docStack{s3: s3c, bucket: bucket, v: v}
}

// stored reports whether key exists and its envelope verifies for tenant.
func (d docStack) stored(t *testing.T, key string, tenant uuid.UUID) bool {
	t.Helper()
	ctx := context.Background()
	head, err := d.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		return false
	}
	got, err := d.v.VerifyObject(ctx, head.Metadata[envelope.MetadataKey], d.bucket, key)
	if err != nil || got.Scope.TenantID() != tenant {
		t.Fatalf("stored object's envelope: %v", err)
	}
	return true
}

// TestDocPresignedUploads runs the presigned-upload examples of
// docs/envelope.md against the local S3 server (which verifies SigV4):
// TypeScript uploads what the Go SDK presigned, Python presigns with boto3
// and uploads; the stored envelope must pass the verifier, and a changed
// envelope header or a non-canonical key must be refused.
func TestDocPresignedUploads(t *testing.T) {
	t.Parallel()
	signer, err := client.GenerateKey(client.AlgES256, "")
	if err != nil {
		t.Fatal(err)
	}
	stack := newDocStack(t, signer)

	t.Run("typescript", func(t *testing.T) {
		t.Parallel()
		node := os.Getenv("TENANTRY_NODE")
		if node == "" {
			t.Skip("TENANTRY_NODE not set (eval \"$(bash deploy/local/stack.sh env)\")")
		}
		c, err := client.New(client.Config{Signer: signer, Issuer: "https://api.example.com", S3: s3.NewPresignClient(stack.s3), Bucket: stack.bucket})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		tenant, other := uuid.New(), uuid.New()
		body := "hello from node"
		up, err := c.PresignUpload(ctx, client.UploadRequest{Tenant: tenant, Filename: "note.txt", Actor: "user:42", ContentType: "text/plain", ContentLength: int64(len(body))})
		if err != nil {
			t.Fatal(err)
		}
		foreign, _ := c.PresignUpload(ctx, client.UploadRequest{Tenant: other, Filename: "note.txt", Actor: "user:42", ContentType: "text/plain"})
		src := docBlock(t, "ts-upload") + "\nconst p = JSON.parse(process.argv[2]);\nawait uploadPresigned(p, new TextEncoder().encode(process.argv[3]));\nconsole.log(\"uploaded\");\n"
		file := filepath.Join(t.TempDir(), "upload.mts")
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		tampered := up
		tampered.Header = up.Header.Clone()
		tampered.Header.Set(envelope.MetadataHeader, foreign.Envelope)
		bad, _ := json.Marshal(tampered)
		if out, stderr, err := run(t, []string{node, "--no-warnings", file, string(bad), body}); err == nil || !strings.Contains(stderr, "HTTP 403") {
			t.Fatalf("an upload with another tenant's envelope: %q %v %s", out, err, stderr)
		}
		if stack.stored(t, up.Key, tenant) {
			t.Fatal("the refused upload stored an object")
		}
		good, _ := json.Marshal(up)
		if out, stderr, err := run(t, []string{node, "--no-warnings", file, string(good), body}); err != nil || strings.TrimSpace(out) != "uploaded" {
			t.Fatalf("node: %v\n%s", err, stderr)
		}
		if !stack.stored(t, up.Key, tenant) {
			t.Fatal("the upload stored nothing")
		}
	})

	t.Run("python", func(t *testing.T) {
		t.Parallel()
		py, err := exec.LookPath("python3")
		if err != nil || exec.Command(py, "-c", "import boto3, cryptography").Run() != nil {
			t.Skip("python3 with boto3 and cryptography is not installed")
		}
		pemKey, err := signer.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		src := docBlock(t, "python") + "\n\n" + docBlock(t, "python-presign") + `

import os, sys
import boto3
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
key = serialization.load_pem_private_key(os.environ["TENANTRY_ENVELOPE_KEY"].encode(), password=None)
kid = os.environ["TENANTRY_ENVELOPE_KID"]
s3 = boto3.client("s3", endpoint_url=os.environ["TENANTRY_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
tenant, bucket = sys.argv[1], sys.argv[2]
try:
    presign_upload(s3, key, kid, tenant, "user:42", bucket, "doc-1", "../x.txt", "text/plain")
    print("accepted non-canonical")
except ValueError:
    print("refused")
p = presign_upload(s3, key, kid, tenant, "user:42", bucket, "doc-1", "notes.txt", "text/plain")
forged = dict(p, headers=dict(p["headers"]))
forged["headers"]["x-amz-meta-tenantry-envelope"] = sys.argv[3]
try:
    upload_presigned(forged, b"forged")
    print("accepted forged")
except urllib.error.HTTPError as e:
    print("forbidden" if e.code == 403 else "http %d" % e.code)
upload_presigned(p, b"hello from python")
print(p["key"])
`
		file := filepath.Join(t.TempDir(), "presign.py")
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		tenant := uuid.New()
		c, _ := client.New(client.Config{Signer: signer, Issuer: "https://api.example.com"})
		otherKey := uuid.NewString() + "/doc-1/notes.txt"
		foreign, err := c.ObjectEnvelope(context.Background(), uuid.MustParse(strings.SplitN(otherKey, "/", 2)[0]), "user:42", stack.bucket, otherKey)
		if err != nil {
			t.Fatal(err)
		}
		out, stderr, err := run(t, []string{py, file, tenant.String(), stack.bucket, foreign},
			"TENANTRY_ENVELOPE_KEY="+string(pemKey), "TENANTRY_ENVELOPE_KID="+signer.KeyID())
		if err != nil {
			t.Fatalf("python: %v\n%s", err, stderr)
		}
		lines := strings.Fields(out)
		want := tenant.String() + "/doc-1/notes.txt"
		if len(lines) != 3 || lines[0] != "refused" || lines[1] != "forbidden" || lines[2] != want {
			t.Fatalf("python printed %q, want refused, forbidden, %s", lines, want)
		}
		if !stack.stored(t, want, tenant) {
			t.Fatal("the python upload stored nothing")
		}
	})
}
