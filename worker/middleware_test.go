package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

func TestChainOrder(t *testing.T) {
	t.Parallel()
	var order []string
	mw := func(name string) worker.Middleware {
		return func(next worker.Handler) worker.Handler {
			return worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
				order = append(order, name)
				return next.Handle(ctx, m)
			})
		}
	}
	h := worker.Chain(worker.HandlerFunc(func(context.Context, *worker.Message) error {
		order = append(order, "handler")
		return nil
	}), mw("a"), mw("b"))
	_ = h.Handle(context.Background(), &worker.Message{})
	if strings.Join(order, ",") != "a,b,handler" {
		t.Errorf("order = %v", order)
	}
}

func TestRecoverer(t *testing.T) {
	t.Parallel()
	h := worker.Chain(worker.HandlerFunc(func(context.Context, *worker.Message) error {
		panic(fmt.Errorf("decoder state: %w", io.ErrUnexpectedEOF))
	}), worker.Recoverer())
	err := h.Handle(context.Background(), &worker.Message{})
	var pe *worker.PanicError
	if !errors.As(err, &pe) || len(pe.Stack) == 0 || worker.ReasonOf(err) != worker.ReasonPanic {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("an error panic value must stay in the chain: %v", err)
	}
	if worker.IsPermanent(err) {
		t.Error("a panic is retried, not permanent")
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		h      worker.HandlerFunc
		reason string
	}{
		{"respects ctx", func(ctx context.Context, _ *worker.Message) error {
			<-ctx.Done()
			return ctx.Err()
		}, worker.ReasonTimeout},
		{"returns own error after deadline", func(ctx context.Context, _ *worker.Message) error {
			<-ctx.Done()
			return errors.New("io failed")
		}, worker.ReasonTimeout},
		{"succeeds despite deadline", func(ctx context.Context, _ *worker.Message) error {
			<-ctx.Done()
			return nil
		}, ""},
		{"fast failure is not a timeout", func(ctx context.Context, _ *worker.Message) error {
			return errors.New("fast")
		}, worker.ReasonTransient},
		{"permanent stays permanent", func(ctx context.Context, _ *worker.Message) error {
			<-ctx.Done()
			return worker.Permanent(ctx.Err(), "too_large")
		}, "too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := worker.Timeout(20*time.Millisecond)(tc.h).Handle(context.Background(), &worker.Message{})
			if got := worker.ReasonOf(err); got != tc.reason {
				t.Errorf("reason = %q (%v), want %q", got, err, tc.reason)
			}
			if tc.reason == worker.ReasonTimeout && !errors.Is(err, worker.ErrHandlerTimeout) {
				t.Errorf("err %v does not wrap ErrHandlerTimeout", err)
			}
		})
	}
}

func TestLogging(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	src.Push([]byte("secret document text"), nil)
	core, logs := observer.New(zapcore.DebugLevel)
	h := worker.Chain(worker.HandlerFunc(func(context.Context, *worker.Message) error {
		return worker.Permanent(nil, "empty_document")
	}), worker.Logging(zapcore.DebugLevel))
	cfg := baseConfig(src, h)
	cfg.Logger = zap.New(core)
	rr := start(t, cfg)
	waitFor(t, "dead-lettering", func() bool { return rr.r.Stats().DeadLettered == 1 })
	_ = rr.stop(t)
	started := logs.FilterMessage("handler started").All()
	finished := logs.FilterMessage("handler finished").All()
	if len(started) != 1 || len(finished) != 1 {
		t.Fatalf("started %d, finished %d log lines", len(started), len(finished))
	}
	if f := finished[0].ContextMap(); f["reason"] != "empty_document" || f["message_id"] == nil {
		t.Errorf("finished line = %v", f)
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), "secret") {
			t.Errorf("message body leaked into a log line: %v", e)
		}
	}
	// Outside a runner there is no message logger: nothing logged, no panic.
	_ = worker.Logging(zapcore.DebugLevel)(worker.HandlerFunc(func(context.Context, *worker.Message) error {
		return nil
	})).Handle(context.Background(), &worker.Message{})
}

func TestContextHelpersOutsideHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	worker.RecordHeartbeat(ctx, 1) // no-op
	if _, ok := worker.MessageFrom(ctx); ok {
		t.Error("MessageFrom outside a handler")
	}
	if worker.Logger(ctx) == nil {
		t.Error("Logger must never be nil")
	}
	if worker.WithLogFields(ctx) != ctx {
		t.Error("no fields: same context")
	}
}
