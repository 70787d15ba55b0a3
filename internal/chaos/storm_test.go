package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/pipeline"
)

// stormKind is what the simulated provider is going through.
type stormKind int32

const (
	calm stormKind = iota
	throttling
	failing
)

// stormEmbedder wraps the offline embedder like a provider client wraps a
// remote API: during a 429 storm most calls fail with a Retry-After hint,
// during a 5xx storm most fail without one. Both are pipeline.TransientError,
// as a real client classifies them.
type stormEmbedder struct {
	pipeline.Embedder
	kind  atomic.Int32
	share float64

	mu  sync.Mutex
	rng *rand.Rand

	calls, throttled, failed atomic.Int64
}

func (s *stormEmbedder) set(k stormKind) { s.kind.Store(int32(k)) }

func (s *stormEmbedder) hit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < s.share
}

func (s *stormEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	s.calls.Add(1)
	switch stormKind(s.kind.Load()) {
	case throttling:
		if s.hit() {
			s.throttled.Add(1)
			return nil, &pipeline.TransientError{Err: errors.New("provider: 429 Too Many Requests"), RetryAfter: 300 * time.Millisecond}
		}
	case failing:
		if s.hit() {
			s.failed.Add(1)
			return nil, &pipeline.TransientError{Err: errors.New("provider: 503 Service Unavailable")}
		}
	}
	return s.Embedder.Embed(ctx, texts)
}

// TestChaosProviderStorm: the embedding provider answers 429 storms (with
// Retry-After) and 5xx storms while documents flow through an in-process
// worker (service.Run, as `tenantry worker` runs it). The worker binary has
// only the offline embedder, so the storm is injected here, at the
// pipeline.Embedder boundary a provider client implements.
func TestChaosProviderStorm(t *testing.T) {
	t.Parallel()
	docsN, window := 40, 2*time.Second
	if long() {
		docsN, window = 300, 10*time.Second
	}
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "storm-", MaxReceive: 40})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 3))

	off, err := offline.New(offline.Config{Dims: 1024})
	if err != nil {
		t.Fatal(err)
	}
	emb := &stormEmbedder{Embedder: off, share: 0.8, rng: rand.New(rand.NewPCG(seed, 4))}
	runCtx, stopWorker := context.WithCancel(ctx)
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(runCtx, service.Config{
			DatabaseURL: env.DB.WorkerURL, DBMaxConns: 8, QueueURL: env.QueueURL, DLQURL: env.DLQURL, Buckets: []string{env.Bucket},
			Concurrency: 8, Pollers: 2, VisibilityTimeout: 5 * time.Second, WaitTime: time.Second, MaxReceiveCount: 30,
			DrainTimeout: 5 * time.Second, BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second,
			OpsAddr: "127.0.0.1:0",
		}, service.Deps{Verifier: env.Kit.Verifier(t), S3: env.Stack.S3, SQS: env.Stack.SQS, Embedder: emb,
			OnListening: func(a net.Addr) { ready <- a }}, nil)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopWorker()
			if err := <-done; err != nil {
				t.Errorf("worker exited with %v", err)
			}
		}
	}
	t.Cleanup(stop)
	<-ready

	tenants := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	chunker, err := harness.NewChunker(512, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer chunker.Close()
	docs := make([]harness.Doc, docsN)
	bodies := make([][]byte, docsN)
	for i := range docs {
		tn := tenants[i%len(tenants)]
		id := fmt.Sprintf("doc-%04d", i)
		bodies[i] = harness.Text(rng, 2<<10+rng.IntN(8<<10))
		chs, err := chunker.Chunks(ctx, "text/plain", bodies[i])
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = harness.Doc{Tenant: tn, DocumentID: id, Key: harness.Key(tn, id, id+".txt"), Version: harness.Version(bodies[i]), Chunks: len(chs)}
	}
	upload(t, ctx, env, docs, bodies)

	// A third of the documents arrive in calm, a third in a 429 storm, a
	// third in a 5xx storm; then calm again.
	began := time.Now()
	phases := []stormKind{calm, throttling, failing}
	per := (len(docs) + len(phases) - 1) / len(phases)
	for ph, kind := range phases {
		emb.set(kind)
		lo, hi := ph*per, min((ph+1)*per, len(docs))
		var msgs []string
		for _, d := range docs[lo:hi] {
			msgs = append(msgs, env.Notification("ObjectCreated:Put", d.Key))
		}
		if err := env.Send(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		if kind != calm {
			time.Sleep(window) // the storm lasts this long
		}
	}
	emb.set(calm)
	err = harness.Eventually(ctx, "every document ready", 5*time.Minute, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		n, err := db.count(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'")
		if err != nil || n < len(docs) {
			return false, err
		}
		v, f, err := env.QueueDepth(ctx, env.QueueURL)
		return err == nil && v == 0 && f == 0, nil
	})
	took := time.Since(began)
	stop()
	r, dead := requireExactlyOnce(ctx, t, db, env, docs, err, 3*time.Second)
	if emb.throttled.Load() == 0 || emb.failed.Load() == 0 {
		t.Errorf("storms did not hit: %d throttled, %d failed calls", emb.throttled.Load(), emb.failed.Load())
	}
	t.Logf("provider storm: %d documents (%d chunks) in %s; %d embed calls, %d answered 429, %d answered 5xx; "+
		"%d document.ingested rows, %d audit events verified, %d dead-lettered",
		len(docs), r.Chunks, took.Round(time.Millisecond), emb.calls.Load(), emb.throttled.Load(), emb.failed.Load(),
		r.IngestAudits, r.AuditEvents, len(dead))
}
