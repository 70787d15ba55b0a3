package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/client"
)

// A backend presigns an upload for a user; the browser or app PUTs the file
// to URL with exactly Headers (client.Upload does it in Go).
func Example() {
	ctx := context.Background()
	signer, _ := client.GenerateKey(client.AlgES256, "backend-2026-12") // production: client.LoadKeyFile or client.NewKMSSigner
	s3c := s3.New(s3.Options{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	c, err := client.New(client.Config{
		Signer: signer, Issuer: "https://api.example.com",
		S3: s3.NewPresignClient(s3c), Bucket: "uploads", URLExpires: 10 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	up, err := c.PresignUpload(ctx, client.UploadRequest{
		Tenant: uuid.MustParse("6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11"), DocumentID: "doc-1",
		Filename: "report.pdf", Actor: "user:42", ContentType: "application/pdf", ContentLength: 48213,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(up.URL)
	fmt.Println(up.Method, up.Key)
	fmt.Println(u.Query().Get("X-Amz-SignedHeaders"))
	fmt.Println(up.Header.Get("X-Amz-Meta-Tenantry-Envelope") == up.Envelope)
	// Output:
	// PUT 6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11/doc-1/report.pdf
	// content-length;content-type;host;x-amz-meta-tenantry-envelope
	// true
}

// fakeSQS stands in for *sqs.Client in the example.
type fakeSQS struct{ bodies []string }

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.bodies = append(f.bodies, aws.ToString(in.MessageBody))
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprint("m-", len(f.bodies)))}, nil
}

// A scheduler asks the worker to re-embed a document and to delete another:
// each job carries an envelope whose bh claim binds the job's exact bytes.
func ExampleClient_SendJob() {
	ctx := context.Background()
	signer, _ := client.GenerateKey(client.AlgEdDSA, "")
	queue := &fakeSQS{} // production: sqs.NewFromConfig(awsConfig)
	c, _ := client.New(client.Config{Signer: signer, Issuer: "https://api.example.com",
		SQS: queue, QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/tenantry-jobs"})
	tenant := uuid.MustParse("6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11")

	if _, err := c.Reindex(ctx, tenant, "svc:scheduler", "doc-1", ""); err != nil {
		fmt.Println(err)
	}
	sent, err := c.Delete(ctx, tenant, "user:42", "doc-2")
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println(sent.MessageID, sent.Job.Type)
	for _, b := range queue.bodies {
		var m struct {
			Envelope string          `json:"envelope"`
			Job      json.RawMessage `json:"job"`
		}
		_ = json.Unmarshal([]byte(b), &m)
		fmt.Println(string(m.Job), m.Envelope != "")
	}
	// Output:
	// m-2 delete
	// {"type":"reindex","document_id":"doc-1"} true
	// {"type":"delete","document_id":"doc-2"} true
}

// Keys that are not canonical are refused before anything is signed.
func ExampleObjectKey() {
	tenant := uuid.MustParse("6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11")
	key, err := client.ObjectKey(tenant, "doc-1", "report.pdf")
	fmt.Println(key, err)
	_, err = client.ObjectKey(tenant, "doc-1", "../report.pdf")
	fmt.Println(err != nil)
	// Output:
	// 6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11/doc-1/report.pdf <nil>
	// true
}
