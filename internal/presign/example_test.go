package presign_test

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/presign"
)

// A backend hands the client a URL plus headers; the client PUTs the file
// with exactly those headers (presign.Upload does it in Go).
func Example() {
	ctx := context.Background()
	signer, _ := envelope.GenerateKey(envelope.AlgES256, "")
	issuer, _ := envelope.NewIssuer(signer, envelope.IssuerConfig{Issuer: "https://api.example.com", Audience: "tenantry"})
	client := s3.New(s3.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String("https://s3.us-east-1.amazonaws.com"), UsePathStyle: true})
	p, _ := presign.New(s3.NewPresignClient(client), issuer, presign.Config{Bucket: "uploads", Expires: 10 * time.Minute}, nil)

	up, err := p.Presign(ctx, presign.Request{
		TenantID: uuid.MustParse("6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11"), DocumentID: "doc-1",
		Filename: "report.pdf", Actor: "user:42", ContentType: "application/pdf", ContentLength: 48213,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(up.URL)
	fmt.Println(up.Method, up.Key)
	fmt.Println(u.Query().Get("X-Amz-SignedHeaders"))
	fmt.Println(up.Header.Get("Content-Type"), up.Header.Get(envelope.MetadataHeader) == up.Envelope)
	// Output:
	// PUT 6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11/doc-1/report.pdf
	// content-length;content-type;host;x-amz-meta-tenantry-envelope
	// application/pdf true
}
