package service_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/statemachine"
	"github.com/tenantry/tenantry/statemachine/statemachinetest"
)

// `tenantry worker` with a task queue runs Step Functions tasks too: the
// staged definition, executed by the local interpreter, completes against the
// same service the document queue uses, under the same tenants' breakers (a
// paused tenant's task is refused with Tenantry.BreakerOpen and runs after
// the resume).
func TestWorkerRunsStepFunctionsTasks(t *testing.T) {
	t.Parallel()
	if os.Getenv("TENANTRY_NODE") == "" {
		t.Skip("TENANTRY_NODE not set (run via make test)")
	}
	s3c, sqsc := awsClients(t)
	ctx, cancel := context.WithCancel(context.Background())
	bucket := randName("sfnsvc-")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteBucket(s3c, bucket) })
	q := randName("sfnsvc-")
	docs, docsDLQ, err := sqssource.EnsureQueues(ctx, sqsc, q, q+"-dlq", 10)
	if err != nil {
		t.Fatal(err)
	}
	tasks, tasksDLQ, err := sqssource.EnsureQueues(ctx, sqsc, q+"-tasks", q+"-tasks-dlq", 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, u := range []string{docs, docsDLQ, tasks, tasksDLQ} {
			_, _ = sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
	def, err := statemachine.Substitute(statemachine.Standard(), map[string]string{statemachine.TaskQueueURL: tasks, statemachine.BucketName: bucket})
	if err != nil {
		t.Fatal(err)
	}
	// Retries 300 ms apart: ten of them outlast the resume below.
	local := statemachinetest.Start(t, statemachinetest.Config{Definition: def, SQSEndpoint: os.Getenv("TENANTRY_SQS_ENDPOINT"),
		RetryInterval: 300 * time.Millisecond})
	sfnc := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(local.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("x", "y", "")})

	kit := envelopetest.New(t)
	db := tenantdbtest.NewDatabase(t)
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, service.Config{
			DatabaseURL: db.WorkerURL, QueueURL: docs, DLQURL: docsDLQ, TaskQueueURL: tasks, TaskDLQURL: tasksDLQ,
			Buckets:     []string{bucket},
			Concurrency: 4, VisibilityTimeout: 3 * time.Second, WaitTime: time.Second, DrainTimeout: 5 * time.Second,
			OpsAddr: "127.0.0.1:0", UsageFlush: 100 * time.Millisecond,
		}, service.Deps{SFN: sfnc, Verifier: kit.Verifier(t), S3: s3c, SQS: sqsc, Embedder: &flakyEmbedder{},
			OnListening: func(a net.Addr) { ready <- a }}, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	<-ready

	raw, err := tenantdb.OpenOperator(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	op := breaker.NewOperator(raw, nil, nil)
	tenant, paused := uuid.New(), uuid.New()
	if err := op.Pause(ctx, paused, "alice", "maintenance"); err != nil {
		t.Fatal(err)
	}
	body := "# Guide\n\nStep Functions drives the staged pipeline.\n\n## Retry\n\nTransient errors back off with jitter."
	start := func(tenant uuid.UUID) string {
		key := tenant.String() + "/guide/guide.md"
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: stringsReader(body), ContentType: aws.String("text/markdown"),
			Metadata: map[string]string{"tenantry-envelope": kit.Object(t, tenant, bucket, key)}}); err != nil {
			t.Fatal(err)
		}
		out, err := sfnc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(local.StateMachineARN()),
			Name: aws.String(randName("svc-")), Input: aws.String(statemachine.Input{Bucket: bucket, Key: key}.JSON())})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ExecutionArn)
	}
	arn, heldARN := start(tenant), start(paused)
	ex := local.Wait(t, arn, 90*time.Second)
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", ex.Status, ex.Error, ex.Cause)
	}
	c := tenantdbtest.Conn(t, db.AdminURL)
	readyDocs := func(tenant uuid.UUID) int {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'", tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := readyDocs(tenant); n != 1 {
		t.Fatalf("ready documents: %d", n)
	}
	// The embed task's provider calls are tallied for the verified tenant,
	// as an SQS message's are (the meter flushes every 100 ms here).
	for deadline := time.Now().Add(30 * time.Second); ; {
		var requests, tokens int64
		if err := c.QueryRow(ctx, `SELECT coalesce(sum(requests), 0), coalesce(sum(tokens), 0)
			FROM provider_usage WHERE tenant_id = $1`, tenant).Scan(&requests, &tokens); err != nil {
			t.Fatal(err)
		}
		if requests > 0 && tokens > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Step Functions tasks' provider usage was not tallied for the tenant: %d requests, %d tokens", requests, tokens)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !heldOnce(local, heldARN) {
		if time.Now().After(deadline) {
			t.Fatalf("the paused tenant's task was never refused; tasks: %+v", local.Tasks())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := op.Resume(ctx, paused, "alice", "done"); err != nil {
		t.Fatal(err)
	}
	if ex := local.Wait(t, heldARN, 90*time.Second); ex.Status != "SUCCEEDED" || readyDocs(paused) != 1 {
		t.Fatalf("the resumed tenant's execution %s: %s %s", ex.Status, ex.Error, ex.Cause)
	}
}

// heldOnce reports whether a task of the execution was refused by its
// tenant's breaker.
func heldOnce(local *statemachinetest.Server, arn string) bool {
	for _, tk := range local.Tasks() {
		if tk.Execution == arn && tk.Error == sfntask.ErrorBreakerOpen {
			return true
		}
	}
	return false
}
