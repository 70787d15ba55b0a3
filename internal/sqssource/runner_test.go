package sqssource_test

// The worker runner against the local SQS server: the "done when"
// behaviours, end to end through the real SDK client.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/worker"
)

type sqsEnv struct {
	client        *sqs.Client
	queue, dlq    string
	src           *sqssource.Source
	h             *harness
	visibilityTTL time.Duration
}

func newSQSEnv(t *testing.T, visibility time.Duration, redriveMax int) *sqsEnv {
	t.Helper()
	client := sqsClient(t)
	q, dlq := newQueues(t, client, redriveMax)
	src, err := sqssource.New(sqssource.Config{
		QueueURL: q, DLQURL: dlq, VisibilityTimeout: visibility, WaitTime: 2 * time.Second,
	}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sqsEnv{client: client, queue: q, dlq: dlq, src: src, h: newHarness(t, client, q, dlq), visibilityTTL: visibility}
}

func (e *sqsEnv) config(h worker.Handler) worker.Config {
	return worker.Config{
		Source: e.src, Handler: h, Concurrency: 8, Pollers: 2,
		VisibilityTimeout: e.visibilityTTL, BackoffBase: time.Second, BackoffMax: time.Second,
		DrainTimeout: 5 * time.Second,
	}
}

func (e *sqsEnv) send(t *testing.T, body string, attrs map[string]string) {
	t.Helper()
	if err := e.h.Send(t.Context(), []byte(body), attrs); err != nil {
		t.Fatal(err)
	}
}

type bg struct {
	r      *worker.Runner
	cancel context.CancelFunc
	done   chan error
}

func runBG(t *testing.T, cfg worker.Config) *bg {
	t.Helper()
	r, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bg{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

func (b *bg) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	err := <-b.done
	b.done <- err
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func until(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSQSRunnerSuccessDeletes(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 30*time.Second, 5)
	if err := e.h.sendBatch(t.Context(), 30, "ok"); err != nil {
		t.Fatal(err)
	}
	b := runBG(t, e.config(worker.HandlerFunc(func(context.Context, *worker.Message) error { return nil })))
	until(t, "30 acks", 20*time.Second, func() bool { return b.r.Stats().Acked == 30 })
	b.stop(t)
	if v, f := queueCounts(t, e.client, e.queue); v+f != 0 {
		t.Errorf("queue still has %d visible, %d in flight", v, f)
	}
}

func TestSQSRunnerTransientComesBackAfterBackoff(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 30*time.Second, 5)
	e.send(t, "flaky", nil)
	var mu sync.Mutex
	var seen []int
	var first time.Time
	var gap time.Duration
	b := runBG(t, e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m.ReceiveCount)
		if m.ReceiveCount == 1 {
			first = time.Now()
			return errors.New("connection reset by peer")
		}
		gap = time.Since(first)
		return nil
	})))
	until(t, "the retry to succeed", 20*time.Second, func() bool { return b.r.Stats().Acked == 1 })
	b.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[1 2]" {
		t.Errorf("receive counts = %v, want [1 2]", seen)
	}
	// Back after the backoff (≤ 1s, rounded up to SQS's whole seconds),
	// long before the 30s visibility timeout.
	if gap > 10*time.Second {
		t.Errorf("retried after %s: the backoff was not applied", gap)
	}
}

func TestSQSRunnerRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 30*time.Second, 5)
	e.send(t, "throttled", nil)
	var calls atomic.Int64
	var first atomic.Int64
	var gap atomic.Int64
	b := runBG(t, e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		if calls.Add(1) == 1 {
			first.Store(time.Now().UnixNano())
			return worker.RetryAfter(3*time.Second, errors.New("429"))
		}
		gap.Store(time.Now().UnixNano() - first.Load())
		return nil
	})))
	until(t, "the redelivery", 20*time.Second, func() bool { return b.r.Stats().Acked == 1 })
	b.stop(t)
	if g := time.Duration(gap.Load()); g < 2500*time.Millisecond || g > 15*time.Second {
		t.Errorf("redelivered after %s, want about 3s (not the 30s visibility timeout)", g)
	}
}

func TestSQSRunnerPermanentGoesToDLQWithReason(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 30*time.Second, 5)
	e.send(t, `{"envelope":"forged","job":{}}`, map[string]string{"producer": "backend"})
	b := runBG(t, e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		return worker.WithStage(worker.Permanent(errors.New("signature does not verify"), "bad_signature"), "envelope")
	})))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dl, err := e.h.DeadLetters(ctx)
	if err != nil || len(dl) != 1 {
		t.Fatalf("DLQ: %d messages, %v", len(dl), err)
	}
	b.stop(t)
	info, origID, ok := worker.ParseDeadLetterInfo(dl[0].Attributes)
	if !ok || info.Reason != "bad_signature" || info.Stage != "envelope" || info.Attempts != 1 || origID == "" {
		t.Errorf("dead-letter info = %+v (original %q)", info, origID)
	}
	if string(dl[0].Body) != `{"envelope":"forged","job":{}}` || dl[0].Attributes["producer"] != "backend" {
		t.Errorf("body or attributes lost: %q %v", dl[0].Body, dl[0].Attributes)
	}
	if v, f := queueCounts(t, e.client, e.queue); v+f != 0 {
		t.Errorf("original still queued (%d visible, %d in flight)", v, f)
	}
}

func TestSQSRunnerPanicRecoveredAndMaxReceives(t *testing.T) {
	t.Parallel()
	// The server's redrive policy allows 3 receives; the runner handles at
	// most one less (2, its configured maximum too): it dead-letters on the
	// 2nd failure, with its reason, and the 3rd receive the server allows
	// is left for a runner to finalize a message whose handler was killed.
	e := newSQSEnv(t, 30*time.Second, 3)
	e.send(t, "panics", nil)
	var calls atomic.Int64
	cfg := e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		panic("nil map")
	}))
	cfg.MaxReceiveCount = 2
	b := runBG(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dl, err := e.h.DeadLetters(ctx)
	if err != nil || len(dl) != 1 {
		t.Fatalf("DLQ: %d messages, %v", len(dl), err)
	}
	b.stop(t)
	info, _, ok := worker.ParseDeadLetterInfo(dl[0].Attributes)
	if !ok || info.Reason != worker.ReasonMaxReceives || info.Attempts != 2 || !strings.Contains(info.Error, "panic") {
		t.Errorf("dead-letter info = %+v", info)
	}
	if calls.Load() != 2 {
		t.Errorf("handled %d times, want 2", calls.Load())
	}
}

func TestSQSRunnerHeartbeatOutlivesVisibilityTimeout(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 2*time.Second, 5)
	e.send(t, "long job", nil)
	var calls atomic.Int64
	cfg := e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		// Simulated work: 2.5 visibility timeouts.
		select {
		case <-time.After(5 * time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	cfg.HeartbeatInterval = 500 * time.Millisecond
	b := runBG(t, cfg)
	until(t, "the long job", 20*time.Second, func() bool { return b.r.Stats().Acked == 1 })
	b.stop(t)
	if calls.Load() != 1 || b.r.Stats().Received != 1 {
		t.Errorf("handled %d times, received %d: redelivered while its handler was alive", calls.Load(), b.r.Stats().Received)
	}
}

func TestSQSRunnerDrainMakesUnfinishedVisible(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, time.Minute, 5)
	if err := e.h.sendBatch(t.Context(), 3, "drain"); err != nil {
		t.Fatal(err)
	}
	var finishing atomic.Int64
	release := make(chan struct{})
	cfg := e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		if finishing.Add(1) == 1 {
			<-release // finishes during the drain
			return nil
		}
		<-ctx.Done() // cancelled at the drain deadline
		return ctx.Err()
	}))
	cfg.Concurrency = 3
	cfg.DrainTimeout = time.Second
	b := runBG(t, cfg)
	until(t, "3 in flight", 20*time.Second, func() bool { return b.r.Stats().InFlight == 3 })
	b.cancel()
	close(release)
	b.stop(t)
	st := b.r.Stats()
	if st.Acked != 1 || st.Released != 2 {
		t.Fatalf("stats = %+v, want 1 acked, 2 released", st)
	}
	// The visibility timeout is a minute: they are back at once only
	// because the drain released them.
	got := receiveAll(t, e.src, 2, 5*time.Second)
	for _, m := range got {
		if m.ReceiveCount != 2 {
			t.Errorf("released message receive count %d, want 2", m.ReceiveCount)
		}
	}
}

func receiveAll(t *testing.T, src *sqssource.Source, n int, within time.Duration) []*worker.Message {
	t.Helper()
	var out []*worker.Message
	deadline := time.Now().Add(within)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		msgs, err := src.Receive(ctx, 10)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		out = append(out, msgs...)
	}
	if len(out) != n {
		t.Fatalf("received %d of %d within %s", len(out), n, within)
	}
	return out
}

func TestSQSRunnerConcurrencyBound(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 30*time.Second, 5)
	const n, limit = 60, 4
	if err := e.h.sendBatch(t.Context(), n, "c"); err != nil {
		t.Fatal(err)
	}
	var active, peak atomic.Int64
	cfg := e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		a := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if a <= p || peak.CompareAndSwap(p, a) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond) // simulated work
		return nil
	}))
	cfg.Concurrency = limit
	cfg.Pollers = 3
	b := runBG(t, cfg)
	until(t, "all acked", 30*time.Second, func() bool { return b.r.Stats().Acked == n })
	b.stop(t)
	if peak.Load() > limit {
		t.Errorf("%d handlers at once, limit %d", peak.Load(), limit)
	}
}

func TestEnsureQueuesIdempotentAndRedrive(t *testing.T) {
	t.Parallel()
	client := sqsClient(t)
	q, dlq := newQueues(t, client, 2)
	// Again, with another maximum: same URLs, policy updated.
	q2, dlq2, err := sqssource.EnsureQueues(t.Context(), client, q[strings.LastIndexByte(q, '/')+1:], dlq[strings.LastIndexByte(dlq, '/')+1:], 1)
	if err != nil || q2 != q || dlq2 != dlq {
		t.Fatalf("second EnsureQueues = %q %q %v", q2, dlq2, err)
	}
	src, err := sqssource.New(sqssource.Config{QueueURL: q, DLQURL: dlq, WaitTime: time.Second, VisibilityTimeout: time.Second}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := src.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.RedriveMaxReceiveCount != 1 || info.RedriveTargetARN != info.DLQARN || info.DLQARN == "" {
		t.Errorf("Inspect = %+v", info)
	}
	// The server's own redrive (no reason attributes) moves a message
	// received more than once.
	h := newHarness(t, client, q, dlq)
	if err := h.Send(t.Context(), []byte("redrive me"), nil); err != nil {
		t.Fatal(err)
	}
	m := receiveAll(t, src, 1, 5*time.Second)[0]
	if err := src.Nack(t.Context(), m, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The next receive triggers the move; poll the queue while waiting.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		for ctx.Err() == nil {
			rctx, rcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			_, _ = src.Receive(rctx, 1)
			rcancel()
		}
	})
	dl, err := h.DeadLetters(ctx)
	if err != nil || len(dl) != 1 || string(dl[0].Body) != "redrive me" {
		t.Fatalf("server redrive: %v %v", dl, err)
	}
	if _, _, ok := worker.ParseDeadLetterInfo(dl[0].Attributes); ok {
		t.Error("a server redrive carries no tenantry reason")
	}
}

// The runner lowers its maximum to one less than the queue's redrive
// policy: with a configured 5 and a queue allowing 2, a failing message is
// handled once and dead-lettered by the runner with its reason, never moved
// silently by the queue.
func TestSQSRunnerStopsOneReceiveBeforeTheRedrivePolicy(t *testing.T) {
	t.Parallel()
	e := newSQSEnv(t, 30*time.Second, 2)
	e.send(t, "fails", nil)
	var calls atomic.Int64
	cfg := e.config(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		return errors.New("transient")
	}))
	cfg.MaxReceiveCount = 5
	b := runBG(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dl, err := e.h.DeadLetters(ctx)
	if err != nil || len(dl) != 1 {
		t.Fatalf("DLQ: %d messages, %v", len(dl), err)
	}
	b.stop(t)
	info, _, ok := worker.ParseDeadLetterInfo(dl[0].Attributes)
	if !ok || info.Reason != worker.ReasonMaxReceives || info.Attempts != 1 {
		t.Errorf("dead-letter info = %+v, %v; want the runner's max_receives after 1 attempt", info, ok)
	}
	if calls.Load() != 1 {
		t.Errorf("handled %d times, want 1", calls.Load())
	}
}
