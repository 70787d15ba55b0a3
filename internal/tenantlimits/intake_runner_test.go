package tenantlimits_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

// bodyAdmitter admits messages through an Intake under the hint their body
// names before its first "/" (as ingest does with the object key's
// tenant), or under hint if set.
// It records the order it was asked in (several pollers receive at once:
// not always the order the messages were sent in).
type bodyAdmitter struct {
	in    *tenantlimits.Intake
	hint  string
	asked *asked
}

type asked struct {
	mu     sync.Mutex
	bodies []string
}

func (a bodyAdmitter) Admit(m *worker.Message, start func(worker.Admission)) (worker.Admission, bool) {
	hint := a.hint
	if hint == "" {
		hint, _, _ = strings.Cut(string(m.Body), "/")
	}
	if a.asked != nil { // in the order the intake sees them
		a.asked.mu.Lock()
		defer a.asked.mu.Unlock()
		a.asked.bodies = append(a.asked.bodies, string(m.Body))
	}
	tk, now := a.in.Enter(hint, func(tk *tenantlimits.Ticket) {
		if tk == nil {
			start(nil)
			return
		}
		start(tk)
	})
	if !now {
		return nil, false
	}
	return tk, true
}

func (a bodyAdmitter) Close() { a.in.Close() }

// stepper handles tenant a's messages one step at a time (each waits for a
// value on step, or for its context to end) and the others at once; it
// records the order they started in.
type stepper struct {
	step chan struct{}
	mu   sync.Mutex
	seen []string
}

func (s *stepper) Handle(ctx context.Context, m *worker.Message) error {
	s.mu.Lock()
	s.seen = append(s.seen, string(m.Body))
	s.mu.Unlock()
	if strings.HasPrefix(string(m.Body), "a/") {
		select {
		case <-s.step:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *stepper) started() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func runIntake(t *testing.T, in *tenantlimits.Intake, src worker.Source, h worker.Handler, concurrency int) (order *asked, stop func()) {
	t.Helper()
	order = &asked{}
	r, err := worker.New(worker.Config{Source: src, Handler: h, Admitter: bodyAdmitter{in: in, asked: order}, Concurrency: concurrency,
		VisibilityTimeout: time.Minute, DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return order, stop
}

// Through the real runner: a backlogged tenant's messages are held with no
// goroutine each, start in arrival order as its earlier ones end, never
// hold another tenant's message up; when the worker drains, the held ones
// go back to the queue unhandled.
func TestIntakeInTheRunner(t *testing.T) {
	t.Parallel()
	const backlog = 500
	src := workertest.NewSource(workertest.Config{WaitTime: 100 * time.Millisecond})
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 2 * backlog})
	h := &stepper{step: make(chan struct{})}
	asked, stop := runIntake(t, in, src, h, 2*backlog+4)

	src.Push([]byte("a/0"), nil)
	waitUntil(t, "a/0 running", func() bool { return len(h.started()) == 1 })
	before := runtime.NumGoroutine()
	for i := 1; i < backlog; i++ {
		src.Push(fmt.Appendf(nil, "a/%d", i), nil)
	}
	waitUntil(t, "a's backlog held", func() bool { return in.Holding("a") == backlog-1 })
	if got := runtime.NumGoroutine(); got > before+20 {
		t.Fatalf("%d goroutines holding %d messages (%d before): one per held message?", got, backlog-1, before)
	}
	src.Push([]byte("b/0"), nil)
	waitUntil(t, "b/0 handled behind a's backlog", func() bool { return slices.Contains(h.started(), "b/0") })

	for range backlog {
		h.step <- struct{}{}
	}
	waitUntil(t, "a's backlog handled", func() bool { return len(h.started()) == backlog+1 })
	onlyA := func(bodies []string) []string {
		return slices.DeleteFunc(slices.Clone(bodies), func(b string) bool { return !strings.HasPrefix(b, "a/") })
	}
	asked.mu.Lock()
	arrived := onlyA(asked.bodies)
	asked.mu.Unlock()
	if got := onlyA(h.started()); !slices.Equal(got, arrived) {
		t.Fatalf("a's messages started in the order\n%v\nnot in the order they arrived\n%v", got, arrived)
	}

	// A new backlog, then the drain: held messages go back at once.
	for i := range 10 {
		src.Push(fmt.Appendf(nil, "a/again-%d", i), nil)
	}
	waitUntil(t, "held again", func() bool { return in.Holding("a") == 9 })
	stop()
	if c := src.Counts(); c.Visible != 10 || c.InFlight != 0 {
		t.Fatalf("after the drain %+v: want the 10 messages visible again", c)
	}
	if n := len(h.started()); n != backlog+2 {
		t.Fatalf("%d handled, want %d: a held message ran during the drain", n, backlog+2)
	}
	if in.Held() != 0 {
		t.Fatalf("%d still held", in.Held())
	}
}

// Through the real runner: a tenant whose running message does not move
// for MaxWait has its next held message started anyway (it will take the
// durable path).
func TestIntakeMaxWaitInTheRunner(t *testing.T) {
	t.Parallel()
	src := workertest.NewSource(workertest.Config{WaitTime: 100 * time.Millisecond})
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10, MaxWait: 50 * time.Millisecond})
	h := &stepper{step: make(chan struct{})}
	_, _ = runIntake(t, in, src, h, 14)
	src.Push([]byte("a/0"), nil)
	waitUntil(t, "a/0 running", func() bool { return len(h.started()) == 1 })
	src.Push([]byte("a/1"), nil)
	waitUntil(t, "a/1 started while a/0 hangs", func() bool { return len(h.started()) == 2 })
	if in.Held() != 0 {
		t.Fatalf("%d held", in.Held())
	}
	h.step <- struct{}{}
	h.step <- struct{}{}
}

// synthetic is a Source of n S3 notifications (then nothing), as received
// from SQS, for measuring what a held message costs.
type synthetic struct {
	n, sent atomic.Int64
}

const notification = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",` +
	`"eventTime":"2026-01-02T03:04:05.678Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},` +
	`"requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"EXAMPLE123456789",` +
	`"x-amz-id-2":"EXAMPLE123/5678abcdefghijklmnopqrstuvwxyzABCDEFGH"},"s3":{"s3SchemaVersion":"1.0","configurationId":"tenantry",` +
	`"bucket":{"name":"bucket","ownerIdentity":{"principalId":"EXAMPLE"},"arn":"arn:aws:s3:::bucket"},` +
	`"object":{"key":"a/%08d/a.txt","size":2048,"eTag":"0123456789abcdef0123456789abcdef","sequencer":"0A1B2C3D4E5F678901"}}}]}`

func (s *synthetic) Receive(ctx context.Context, max int) ([]*worker.Message, error) {
	var out []*worker.Message
	for range max {
		i := s.sent.Add(1)
		if i > s.n.Load() {
			<-ctx.Done()
			return out, ctx.Err()
		}
		out = append(out, &worker.Message{ID: fmt.Sprintf("%08d-1111-2222-3333-444455556666", i),
			Body: fmt.Appendf(nil, notification, i), Handle: fmt.Sprintf("%0200d", i), ReceiveCount: 1,
			ReceivedAt: time.Now(), SentAt: time.Now()})
	}
	return out, nil
}

func (s *synthetic) Ack(context.Context, ...*worker.Message) error                { return nil }
func (s *synthetic) Nack(context.Context, *worker.Message, time.Duration) error   { return nil }
func (s *synthetic) Extend(context.Context, *worker.Message, time.Duration) error { return nil }
func (s *synthetic) DeadLetter(context.Context, *worker.Message, worker.DeadLetterInfo) error {
	return nil
}

// BenchmarkHeldMessage measures what one held message costs the worker:
// 10,000 messages of one tenant held behind its first (which never ends),
// Go heap and goroutine stacks in use (after a GC) and goroutines, per held
// message. Run: go test -run '^$' -bench HeldMessage -benchtime 3x ./internal/tenantlimits
func BenchmarkHeldMessage(b *testing.B) {
	const n = 10000
	var bytes, goroutines float64
	for range b.N {
		src := &synthetic{}
		src.n.Store(n + 1)
		in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: n})
		h := worker.HandlerFunc(func(ctx context.Context, _ *worker.Message) error {
			<-ctx.Done()
			return nil
		})
		r, err := worker.New(worker.Config{Source: src, Handler: worker.Chain(h, worker.Timeout(time.Hour)),
			Admitter: bodyAdmitter{in: in, hint: "a"}, Concurrency: n + 1, VisibilityTimeout: time.Minute, DrainTimeout: time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		for in.Held() < n {
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		bytes += float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse)) / n
		goroutines += float64(runtime.NumGoroutine()-g) / n
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(bytes/float64(b.N), "B/held")
	b.ReportMetric(goroutines/float64(b.N), "goroutines/held")
}
