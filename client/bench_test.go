package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/client"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/presign"
)

// BenchmarkSDKOverhead compares the SDK with the internal packages it
// wraps, in the same run: the ratio client/internal is the SDK's cost (its
// extra checks: canonical key, job binding, message encoding).
//
//	go test ./client -run '^$' -bench SDKOverhead -benchtime 2000x
func BenchmarkSDKOverhead(b *testing.B) {
	ctx := context.Background()
	signer, _ := client.GenerateKey(client.AlgES256, "")
	tenant := uuid.New()
	iss, _ := envelope.NewIssuer(signer, envelope.IssuerConfig{Issuer: "https://api.example.com", Audience: "tenantry", TTL: time.Hour})
	s3c := s3.New(s3.Options{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	pc := s3.NewPresignClient(s3c)
	c, _ := client.New(client.Config{Signer: signer, Issuer: "https://api.example.com", TTL: time.Hour, S3: pc, Bucket: "uploads"})
	p, _ := presign.New(pc, iss, presign.Config{Bucket: "uploads"}, nil)
	job := client.Job{Type: client.JobReindex, DocumentID: "doc-1"}

	b.Run("job/internal", func(b *testing.B) {
		for b.Loop() {
			raw, _ := json.Marshal(job)
			tok, _, err := iss.Job(ctx, tenant, "svc", envelope.ActionReindex, envelope.DocumentResource("doc-1"), raw)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = json.Marshal(map[string]any{"envelope": tok, "job": json.RawMessage(raw)})
		}
	})
	b.Run("job/client", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.SignJob(ctx, tenant, "svc", job); err != nil {
				b.Fatal(err)
			}
		}
	})
	req := presign.Request{TenantID: tenant, DocumentID: "doc-1", Filename: "a.pdf", Actor: "user:1", ContentType: "application/pdf"}
	b.Run("presign/internal", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Presign(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("presign/client", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.PresignUpload(ctx, client.UploadRequest{Tenant: tenant, DocumentID: "doc-1", Filename: "a.pdf", Actor: "user:1", ContentType: "application/pdf"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
