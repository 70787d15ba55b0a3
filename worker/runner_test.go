package worker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

func TestRunnerSuccessAcks(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	const n = 35
	for i := range n {
		src.Push(fmt.Appendf(nil, "m%d", i), nil)
	}
	var handled atomic.Int64
	reg := prometheus.NewRegistry()
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		handled.Add(1)
		return nil
	}))
	cfg.Registerer = reg
	rr := start(t, cfg)
	waitFor(t, "all acked", func() bool { return rr.r.Stats().Acked == n })
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	c := src.Counts()
	if c.Deleted != n || c.Visible+c.InFlight != 0 {
		t.Errorf("counts = %+v, want %d deleted and nothing left", c, n)
	}
	if handled.Load() != n {
		t.Errorf("handled %d, want %d", handled.Load(), n)
	}
	lbl := map[string]string{"runner": "default"}
	for name, want := range map[string]float64{
		"tenantry_worker_messages_received_total":  n,
		"tenantry_worker_messages_succeeded_total": n,
		"tenantry_worker_queue_lag_seconds":        n,
		"tenantry_worker_in_flight":                0,
	} {
		if got := metricValue(t, reg, name, lbl); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metricValue(t, reg, "tenantry_worker_handler_duration_seconds", map[string]string{"outcome": "success"}); got != n {
		t.Errorf("handler_duration_seconds{success} count = %v, want %d", got, n)
	}
	if c.Acks < n || c.Acks > n {
		t.Errorf("acks = %d", c.Acks)
	}
}

func TestRunnerTransientRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	src := &recorder{Source: memSource(workertest.Config{})}
	src.Source.(*workertest.Source).Push([]byte("flaky"), nil)
	var attempts []int
	var mu sync.Mutex
	reg := prometheus.NewRegistry()
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, m.ReceiveCount)
		if m.ReceiveCount < 3 {
			return errors.New("connection reset")
		}
		return nil
	}))
	cfg.Registerer = reg
	rr := start(t, cfg)
	waitFor(t, "success on the third receive", func() bool { return rr.r.Stats().Acked == 1 })
	_ = rr.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2 3]" {
		t.Errorf("attempts = %v", attempts)
	}
	delays := src.nackDelays()
	if len(delays) != 2 {
		t.Fatalf("nacks = %v, want 2", delays)
	}
	for i, d := range delays {
		// Full jitter over base·2^(n-1), n = receive count.
		if ceiling := cfg.BackoffBase << i; d < 0 || d > ceiling {
			t.Errorf("nack %d delay %s outside [0, %s]", i+1, d, ceiling)
		}
	}
	if got := metricValue(t, reg, "tenantry_worker_messages_failed_total", map[string]string{"reason": "transient"}); got != 2 {
		t.Errorf("failed{transient} = %v, want 2", got)
	}
	if got := metricValue(t, reg, "tenantry_worker_messages_retried_total", nil); got != 2 {
		t.Errorf("retried = %v, want 2", got)
	}
}

func TestRunnerRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	src := &recorder{Source: memSource(workertest.Config{})}
	src.Source.(*workertest.Source).Push([]byte("throttled"), nil)
	var calls atomic.Int64
	var nacked time.Time
	var redelivered atomic.Int64 // ns after the first handling
	const delay = 300 * time.Millisecond
	rr := start(t, baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		if calls.Add(1) == 1 {
			nacked = time.Now()
			return worker.RetryAfter(delay, errors.New("429 from the embedder"))
		}
		redelivered.Store(int64(time.Since(nacked)))
		return nil
	})))
	waitFor(t, "redelivery", func() bool { return rr.r.Stats().Acked == 1 })
	_ = rr.stop(t)
	if d := src.nackDelays(); len(d) != 1 || d[0] != delay {
		t.Fatalf("nack delays = %v, want [%s]", d, delay)
	}
	if got := time.Duration(redelivered.Load()); got < delay {
		t.Errorf("redelivered after %s, before the %s asked for", got, delay)
	}
}

func TestRunnerPermanentDeadLetters(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte(`{"job":1}`), map[string]string{"tenantry-envelope": "x.y.z"})
	reg := prometheus.NewRegistry()
	var calls atomic.Int64
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		return worker.WithStage(worker.Permanent(errors.New("signature does not verify"), "bad_signature"), "envelope")
	}))
	cfg.Registerer = reg
	rr := start(t, cfg)
	waitFor(t, "dead-lettering", func() bool { return rr.r.Stats().DeadLettered == 1 })
	_ = rr.stop(t)
	if calls.Load() != 1 {
		t.Errorf("handler called %d times; a permanent failure must not be retried", calls.Load())
	}
	dlq := src.DLQ()
	if len(dlq) != 1 {
		t.Fatalf("DLQ has %d messages", len(dlq))
	}
	info, _, ok := worker.ParseDeadLetterInfo(dlq[0].Attributes)
	if !ok || info.Reason != "bad_signature" || info.Stage != "envelope" || info.Attempts != 1 ||
		!strings.Contains(info.Error, "signature does not verify") {
		t.Errorf("dead-letter info = %+v", info)
	}
	if dlq[0].Attributes["tenantry-envelope"] != "x.y.z" || string(dlq[0].Body) != `{"job":1}` {
		t.Errorf("original body or attributes lost: %+v", dlq[0])
	}
	if c := src.Counts(); c.Visible+c.InFlight != 0 {
		t.Errorf("original still queued: %+v", c)
	}
	if got := metricValue(t, reg, "tenantry_worker_messages_dead_lettered_total", map[string]string{"reason": "bad_signature"}); got != 1 {
		t.Errorf("dead_lettered{bad_signature} = %v", got)
	}
}

func TestRunnerPanicRecovered(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte("boom"), nil)
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		if m.ReceiveCount == 1 {
			panic("index out of range")
		}
		return nil
	}))
	cfg.Logger = zap.New(core)
	rr := start(t, cfg)
	waitFor(t, "success after the panic", func() bool { return rr.r.Stats().Acked == 1 })
	_ = rr.stop(t)
	entries := logs.FilterField(zap.String("reason", "panic")).All()
	if len(entries) != 1 || entries[0].Level != zapcore.ErrorLevel {
		t.Fatalf("want one error-level panic outcome line, got %v", entries)
	}
	ctx := entries[0].ContextMap()
	if !strings.Contains(fmt.Sprint(ctx["stack"]), "runner_test.go") {
		t.Errorf("panic log has no stack: %v", ctx)
	}
	if ctx["message_id"] == "" || ctx["receive_count"] != int64(1) {
		t.Errorf("panic log lacks message fields: %v", ctx)
	}
}

func TestRunnerMaxReceivesDeadLetters(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte("always fails"), nil)
	var calls atomic.Int64
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		return errors.New("downstream unavailable")
	}))
	cfg.MaxReceiveCount = 3
	rr := start(t, cfg)
	waitFor(t, "dead-lettering after 3 receives", func() bool { return rr.r.Stats().DeadLettered == 1 })
	_ = rr.stop(t)
	if calls.Load() != 3 {
		t.Errorf("handled %d times, want exactly MaxReceiveCount=3", calls.Load())
	}
	info, _, ok := worker.ParseDeadLetterInfo(src.DLQ()[0].Attributes)
	if !ok || info.Reason != worker.ReasonMaxReceives || info.Attempts != 3 ||
		!strings.Contains(info.Error, "transient: downstream unavailable") {
		t.Errorf("dead-letter info = %+v", info)
	}
}

func TestRunnerOverReceivedIsNotHandled(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{WaitTime: 50 * time.Millisecond})
	src.Push([]byte("crashed twice"), nil)
	// Two deliveries the worker never settled (crashes): receive count 2.
	for range 2 {
		msgs, err := src.Receive(t.Context(), 1)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("Receive: %v %v", msgs, err)
		}
		if err := src.Nack(t.Context(), msgs[0], 0); err != nil {
			t.Fatal(err)
		}
	}
	var calls atomic.Int64
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		return nil
	}))
	cfg.MaxReceiveCount = 2
	rr := start(t, cfg)
	waitFor(t, "dead-lettering", func() bool { return rr.r.Stats().DeadLettered == 1 })
	_ = rr.stop(t)
	if calls.Load() != 0 {
		t.Errorf("handler ran on the third receive with MaxReceiveCount=2")
	}
	info, _, _ := worker.ParseDeadLetterInfo(src.DLQ()[0].Attributes)
	if info.Reason != worker.ReasonMaxReceives || info.Stage != "receive" || info.Attempts != 3 {
		t.Errorf("dead-letter info = %+v", info)
	}
}

func TestRunnerHeartbeatKeepsLongHandlerInvisible(t *testing.T) {
	t.Parallel()
	// Visibility 2s; the handler runs until the message has been extended
	// past it (12 × 250ms), so without heartbeats it would be redelivered
	// to the second poller meanwhile.
	src := memSource(workertest.Config{VisibilityTimeout: 2 * time.Second, WaitTime: 100 * time.Millisecond})
	src.Push([]byte("long job"), nil)
	var calls atomic.Int64
	var progressSeen atomic.Value
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		began := time.Now()
		for i := 0; src.Counts().Extends < 12; i++ {
			worker.RecordHeartbeat(ctx, i)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		if time.Since(began) < 2*time.Second {
			return errors.New("handler did not outlive the visibility timeout")
		}
		return nil
	}))
	cfg.VisibilityTimeout = 2 * time.Second
	cfg.HeartbeatInterval = 250 * time.Millisecond
	cfg.OnHeartbeat = func(ctx context.Context, m *worker.Message, progress any) error {
		progressSeen.Store(progress)
		return nil
	}
	rr := start(t, cfg)
	waitFor(t, "the long handler to finish", func() bool { return rr.r.Stats().Acked == 1 })
	_ = rr.stop(t)
	if c := src.Counts(); calls.Load() != 1 || c.Receives != 1 {
		t.Errorf("handled %d times, %d receives: the message was redelivered while its handler was alive", calls.Load(), c.Receives)
	}
	if _, ok := progressSeen.Load().(int); !ok {
		t.Errorf("OnHeartbeat never saw the recorded progress")
	}
}

// receiveCounter counts a source's receives and the most at once.
type receiveCounter struct {
	worker.Source
	now, most, calls atomic.Int64
}

func (c *receiveCounter) Receive(ctx context.Context, n int) ([]*worker.Message, error) {
	c.calls.Add(1)
	now := c.now.Add(1)
	for m := c.most.Load(); now > m && !c.most.CompareAndSwap(m, now); m = c.most.Load() {
	}
	defer c.now.Add(-1)
	return c.Source.Receive(ctx, n)
}

// Extra pollers receive only in a burst: with Burst false the runner
// long-polls with Pollers receives at once, with it true with
// Pollers+ExtraPollers.
func TestRunnerExtraPollersOnlyInABurst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		burst bool
		most  int64
	}{
		{"idle: the base pollers only", false, 1},
		{"burst: the extra pollers too", true, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &receiveCounter{Source: memSource(workertest.Config{WaitTime: 50 * time.Millisecond})}
			cfg := baseConfig(src, worker.HandlerFunc(func(context.Context, *worker.Message) error { return nil }))
			cfg.Pollers, cfg.ExtraPollers = 1, 3
			cfg.Burst = func() bool { return tc.burst }
			rr := start(t, cfg)
			// 20 long polls of the base poller: time for every extra one to
			// have polled too, were it allowed.
			waitFor(t, "20 receives", func() bool { return src.calls.Load() >= 20 && src.most.Load() >= tc.most })
			_ = rr.stop(t)
			if got := src.most.Load(); got != tc.most {
				t.Errorf("%d receives at once, want %d", got, tc.most)
			}
		})
	}
}

// plainSource hides a source's ExtendBatch: each heartbeat calls Extend.
type plainSource struct{ worker.Source }

func TestRunnerHeartbeatsBatched(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		plain   bool
		batched bool // at least 4 extensions per call on average
	}{
		{"batch extender: heartbeats share calls", false, true},
		{"plain source: one call per heartbeat", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := memSource(workertest.Config{VisibilityTimeout: 2 * time.Second, WaitTime: 100 * time.Millisecond})
			const n, beats = 20, 3
			for i := range n {
				src.Push(fmt.Appendf(nil, "held %d", i), nil)
			}
			var s worker.Source = src
			if tc.plain {
				s = plainSource{src}
			}
			// Every handler runs until the messages were extended beats
			// times each on average: past the visibility timeout.
			cfg := baseConfig(s, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
				for src.Counts().Extends < n*beats {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(5 * time.Millisecond):
					}
				}
				return nil
			}))
			cfg.Concurrency = n
			cfg.VisibilityTimeout = 2 * time.Second
			cfg.HeartbeatInterval = 700 * time.Millisecond
			rr := start(t, cfg)
			waitFor(t, "every handler to finish", func() bool { return rr.r.Stats().Acked == n })
			_ = rr.stop(t)
			c := src.Counts()
			if c.Receives != n || c.StaleOps != 0 {
				t.Errorf("%d receives, %d stale operations: a heartbeat was lost", c.Receives, c.StaleOps)
			}
			if got := c.Extends >= 4*c.ExtendCalls; got != tc.batched {
				t.Errorf("%d extensions in %d calls: batched %v, want %v", c.Extends, c.ExtendCalls, got, tc.batched)
			}
		})
	}
}

func TestRunnerHeartbeatStopsWhenHandlerEnds(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{VisibilityTimeout: time.Second})
	src.Push([]byte("quick"), nil)
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		return nil
	}))
	cfg.VisibilityTimeout = time.Second
	cfg.HeartbeatInterval = 100 * time.Millisecond
	rr := start(t, cfg)
	waitFor(t, "ack", func() bool { return rr.r.Stats().Acked == 1 })
	_ = rr.stop(t) // goleak (TestMain) catches a heartbeat goroutine left running
	if c := src.Counts(); c.StaleOps != 0 {
		t.Errorf("operations on a settled delivery: %+v", c)
	}
}

func TestRunnerDrain(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	for i := range 4 {
		src.Push(fmt.Appendf(nil, "%d", i), nil)
	}
	finish := make(chan struct{})
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		if string(m.Body) < "2" {
			<-finish // finishes during the drain
			return nil
		}
		<-ctx.Done() // still running at the drain deadline
		return ctx.Err()
	}))
	cfg.DrainTimeout = 500 * time.Millisecond
	rr := start(t, cfg)
	waitFor(t, "4 in flight", func() bool { return rr.r.Stats().InFlight == 4 })
	rr.cancel()
	close(finish)
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := rr.r.Stats()
	if st.Acked != 2 || st.Released != 2 {
		t.Errorf("stats = %+v, want 2 acked (finished in the drain) and 2 released", st)
	}
	// The visibility timeout is a minute: only a release makes them visible now.
	if c := src.Counts(); c.Visible != 2 || c.Deleted != 2 {
		t.Errorf("counts = %+v, want 2 visible again and 2 deleted", c)
	}
}

func TestRunnerDrainReleasesHandlerIgnoringContext(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte("stuck"), nil)
	unblock := make(chan struct{})
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		<-unblock // ignores ctx
		return nil
	}))
	cfg.DrainTimeout = 200 * time.Millisecond
	rr := start(t, cfg)
	waitFor(t, "in flight", func() bool { return rr.r.Stats().InFlight == 1 })
	rr.cancel()
	// Released at the deadline although the handler still runs.
	waitFor(t, "release", func() bool { return src.Counts().Visible == 1 })
	select {
	case <-rr.done:
		t.Fatal("Run returned while a handler was still running")
	default:
	}
	close(unblock)
	if err := rr.stop(t); err != nil {
		t.Fatal(err)
	}
	if c := src.Counts(); c.Deleted != 0 || c.Visible != 1 {
		t.Errorf("a released message's late success must not ack it: %+v", c)
	}
}

func TestRunnerReleasesMessagesReceivedWhileStopping(t *testing.T) {
	t.Parallel()
	mem := memSource(workertest.Config{})
	for range 3 {
		mem.Push([]byte("late"), nil)
	}
	src := &recorder{Source: mem}
	entered := make(chan struct{})
	var once sync.Once
	src.recvFn = func(ctx context.Context, max int) ([]*worker.Message, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done() // the receive completes just as the worker stops
		return mem.Receive(context.Background(), max)
	}
	var calls atomic.Int64
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		calls.Add(1)
		return nil
	}))
	cfg.Pollers = 1
	cfg.Concurrency = 10
	rr := start(t, cfg)
	<-entered
	if err := rr.stop(t); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Errorf("handled %d messages received after the stop", calls.Load())
	}
	if c := mem.Counts(); c.Visible != 3 {
		t.Errorf("counts = %+v, want all 3 visible again at once", c)
	}
	if d := src.nackDelays(); len(d) != 3 || d[0] != 0 {
		t.Errorf("nacks = %v, want three Nack(0)", d)
	}
}

func TestRunnerConcurrencyBound(t *testing.T) {
	t.Parallel()
	const concurrency, n = 5, 60
	mem := memSource(workertest.Config{})
	for range n {
		mem.Push([]byte("x"), nil)
	}
	var active, maxActive, violations atomic.Int64
	src := &recorder{Source: mem}
	src.recvFn = func(ctx context.Context, max int) ([]*worker.Message, error) {
		// Never ask for more than the free slots.
		if a := active.Load(); a+int64(max) > concurrency {
			violations.Add(1)
		}
		return mem.Receive(ctx, max)
	}
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		a := active.Add(1)
		defer active.Add(-1)
		for {
			old := maxActive.Load()
			if a <= old || maxActive.CompareAndSwap(old, a) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // simulated work
		return nil
	}))
	cfg.Concurrency = concurrency
	cfg.Pollers = 3
	cfg.BatchSize = 4
	rr := start(t, cfg)
	waitFor(t, "all acked", func() bool { return rr.r.Stats().Acked == n })
	_ = rr.stop(t)
	if maxActive.Load() > concurrency {
		t.Errorf("%d handlers ran at once, limit %d", maxActive.Load(), concurrency)
	}
	if violations.Load() > 0 {
		t.Errorf("%d receives asked for more messages than free slots", violations.Load())
	}
}

func TestRunnerSourceClosed(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte("last"), nil)
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error { return nil }))
	r, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	waitFor(t, "ack", func() bool { return r.Stats().Acked == 1 })
	src.Close()
	if err := <-done; !errors.Is(err, worker.ErrSourceClosed) {
		t.Fatalf("Run = %v, want ErrSourceClosed", err)
	}
	if err := r.Run(context.Background()); !errors.Is(err, worker.ErrAlreadyStarted) {
		t.Errorf("second Run = %v, want ErrAlreadyStarted", err)
	}
}

func TestRunnerReceiveErrorsAreRetried(t *testing.T) {
	t.Parallel()
	mem := memSource(workertest.Config{})
	mem.Push([]byte("eventually"), nil)
	var fails atomic.Int64
	src := &recorder{Source: mem}
	src.recvFn = func(ctx context.Context, max int) ([]*worker.Message, error) {
		if fails.Add(1) <= 3 {
			return nil, errors.New("connection refused")
		}
		return mem.Receive(ctx, max)
	}
	reg := prometheus.NewRegistry()
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error { return nil }))
	cfg.Pollers = 1
	cfg.Registerer = reg
	rr := start(t, cfg)
	waitFor(t, "ack", func() bool { return rr.r.Stats().Acked == 1 })
	_ = rr.stop(t)
	if got := metricValue(t, reg, "tenantry_worker_source_errors_total", map[string]string{"op": "receive"}); got != 3 {
		t.Errorf("source_errors{receive} = %v, want 3", got)
	}
}

func TestRunnerWithoutDLQPutsBack(t *testing.T) {
	t.Parallel()
	src := &recorder{Source: memSource(workertest.Config{NoDeadLetterQueue: true})}
	src.Source.(*workertest.Source).Push([]byte("poison"), nil)
	cfg := baseConfig(src, worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		return worker.Permanent(errors.New("unsupported"), "unsupported_media_type")
	}))
	rr := start(t, cfg)
	waitFor(t, "the put-back", func() bool { return len(src.nackDelays()) == 1 })
	_ = rr.stop(t)
	if d := src.nackDelays(); d[0] != cfg.BackoffMax {
		t.Errorf("put back after %s, want BackoffMax %s (left to the redrive policy)", d[0], cfg.BackoffMax)
	}
	if rr.r.Stats().DeadLettered != 0 {
		t.Error("counted as dead-lettered without a DLQ")
	}
}

func TestRunnerOutcomeLineCarriesMiddlewareFields(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte("tenant job"), nil)
	core, logs := observer.New(zapcore.DebugLevel)
	tenant := func(next worker.Handler) worker.Handler {
		return worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
			ctx = worker.WithLogFields(ctx, zap.String("tenant_id", "7c1e"), zap.String("job_id", m.ID))
			worker.Logger(ctx).Info("verified")
			return next.Handle(ctx, m)
		})
	}
	h := worker.Chain(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		return worker.Permanent(errors.New("no text"), "empty_document")
	}), tenant)
	cfg := baseConfig(src, h)
	cfg.Logger = zap.New(core)
	rr := start(t, cfg)
	waitFor(t, "dead-lettering", func() bool { return rr.r.Stats().DeadLettered == 1 })
	_ = rr.stop(t)
	outcome := logs.FilterMessage("message dead-lettered").All()
	if len(outcome) != 1 {
		t.Fatalf("want one outcome line, got %d", len(outcome))
	}
	ctx := outcome[0].ContextMap()
	if ctx["tenant_id"] != "7c1e" || ctx["message_id"] == nil || ctx["reason"] != "empty_document" {
		t.Errorf("outcome line fields = %v", ctx)
	}
	if inner := logs.FilterMessage("verified").All(); len(inner) != 1 || inner[0].ContextMap()["tenant_id"] != "7c1e" {
		t.Errorf("handler log line lacks tenant_id: %v", inner)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	h := worker.HandlerFunc(func(context.Context, *worker.Message) error { return nil })
	ok := func() worker.Config { return worker.Config{Source: src, Handler: h} }
	tests := map[string]func(*worker.Config){
		"no source":                   func(c *worker.Config) { c.Source = nil },
		"no handler":                  func(c *worker.Config) { c.Handler = nil },
		"negative concurrency":        func(c *worker.Config) { c.Concurrency = -1 },
		"negative pollers":            func(c *worker.Config) { c.Pollers = -1 },
		"batch over 10":               func(c *worker.Config) { c.BatchSize = 11 },
		"sub-second visibility":       func(c *worker.Config) { c.VisibilityTimeout = 500 * time.Millisecond },
		"visibility over 12h":         func(c *worker.Config) { c.VisibilityTimeout = 13 * time.Hour },
		"heartbeat >= visibility":     func(c *worker.Config) { c.HeartbeatInterval = time.Minute; c.VisibilityTimeout = time.Minute },
		"backoff max below base":      func(c *worker.Config) { c.BackoffBase = time.Minute; c.BackoffMax = time.Second },
		"backoff max over 12h":        func(c *worker.Config) { c.BackoffMax = 24 * time.Hour },
		"negative drain":              func(c *worker.Config) { c.DrainTimeout = -time.Second },
		"metrics and registerer":      func(c *worker.Config) { c.Metrics = &worker.Metrics{}; c.Registerer = prometheus.NewRegistry() },
		"negative source timeout":     func(c *worker.Config) { c.SourceTimeout = -1 },
		"negative backoff base":       func(c *worker.Config) { c.BackoffBase = -time.Second },
		"zero-width batch (negative)": func(c *worker.Config) { c.BatchSize = -3 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := ok()
			mutate(&cfg)
			if _, err := worker.New(cfg); !errors.Is(err, worker.ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := worker.New(ok()); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := worker.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	cfg := ok()
	cfg.Registerer = reg
	if _, err := worker.New(cfg); err == nil {
		t.Error("registering the metrics twice on one registry must fail (share one Metrics instead)")
	}
}
