package worker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

// A runner over an in-memory queue: one message succeeds, one is
// dead-lettered with a reason. In production the Source is
// sqssource.New(...) and ctx is cancelled on SIGTERM.
func Example() {
	src := workertest.NewSource(workertest.Config{WaitTime: 50 * time.Millisecond})
	src.Push([]byte(`{"ok":true}`), nil)
	src.Push([]byte(`not json`), nil)

	handler := worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		if m.Body[0] != '{' {
			return worker.Permanent(errors.New("body is not JSON"), "malformed_event")
		}
		return nil // acked
	})
	r, err := worker.New(worker.Config{Source: src, Handler: handler, Concurrency: 2})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	for r.Stats().Acked+r.Stats().DeadLettered < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // drain and stop
	if err := <-done; err != nil {
		panic(err)
	}
	info, _, _ := worker.ParseDeadLetterInfo(src.DLQ()[0].Attributes)
	fmt.Println("acked:", r.Stats().Acked, "dead-lettered:", info.Reason)
	// Output: acked: 1 dead-lettered: malformed_event
}

// Outcomes are errors.
func ExamplePermanent() {
	err := worker.Permanent(errors.New("no text layer"), "empty_document")
	fmt.Println(worker.IsPermanent(err), worker.ReasonOf(err))
	retry := worker.RetryAfter(30*time.Second, errors.New("429 Too Many Requests"))
	d, _ := worker.RetryDelay(retry)
	fmt.Println(worker.IsPermanent(retry), worker.ReasonOf(retry), d)
	fmt.Println(worker.ReasonOf(errors.New("connection reset")))
	// Output:
	// true empty_document
	// false retry_after 30s
	// transient
}

// A middleware that adds fields to the message's logger; the runner's
// outcome line for the message carries them too.
func ExampleWithLogFields() {
	tenantFields := func(next worker.Handler) worker.Handler {
		return worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
			ctx = worker.WithLogFields(ctx, zap.String("tenant_id", "3f1c9a2e-..."), zap.String("job_id", m.ID))
			worker.Logger(ctx).Debug("tenant verified")
			return next.Handle(ctx, m)
		})
	}
	h := worker.Chain(worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error { return nil }),
		worker.Recoverer(), tenantFields, worker.Timeout(5*time.Minute))
	fmt.Println(h.Handle(context.Background(), &worker.Message{ID: "m-1"}))
	// Output: <nil>
}
