package service_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenantry/tenantry/internal/service"
)

// The AWS clients keep their connections for reuse when a worker has many
// requests in flight to one endpoint: a second wave of as many concurrent
// requests as the first dials no new connection (the SDK's default keeps
// 10 idle per host, so 38 of 48 would be dialled again).
func TestAWSClientsReuseConnectionsUnderConcurrency(t *testing.T) {
	t.Parallel()
	const concurrent = 48
	var (
		dialled atomic.Int64
		mu      sync.Mutex
		arrived int
		release = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold every request of a wave until all of them are in flight, so
		// the wave needs that many connections at once.
		mu.Lock()
		arrived++
		wave := release
		if arrived%concurrent == 0 {
			close(release)
			release = make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-wave:
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Content-Length", "0")
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	ctx := context.Background()
	cfg, err := service.AWS{S3Endpoint: srv.URL, Region: "us-east-1"}.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(srv.URL), true
		o.Credentials = credentials.NewStaticCredentialsProvider("id", "secret", "")
	})
	wave := func() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	wave()
	first := dialled.Load()
	if first < concurrent {
		t.Fatalf("the first wave dialled %d connections, want %d (the requests were not concurrent)", first, concurrent)
	}
	wave()
	if again := dialled.Load() - first; again != 0 {
		t.Errorf("the second wave dialled %d new connections, want 0 (idle connections were closed)", again)
	}
}
