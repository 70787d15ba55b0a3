package workertest_test

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/sourcetest"
	"github.com/tenantry/tenantry/worker/workertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	t.Parallel()
	sourcetest.Run(t, func(t *testing.T) (worker.Source, sourcetest.Sender) {
		src := workertest.NewSource(workertest.Config{VisibilityTimeout: sourcetest.VisibilityTimeout})
		return src, src
	})
}

func TestRedrivePolicyMovesWithoutReason(t *testing.T) {
	t.Parallel()
	src := workertest.NewSource(workertest.Config{VisibilityTimeout: time.Minute, MaxReceiveCount: 2, WaitTime: 50 * time.Millisecond})
	src.Push([]byte("x"), map[string]string{"k": "v"})
	for want := 1; want <= 2; want++ {
		msgs, err := src.Receive(t.Context(), 10)
		if err != nil || len(msgs) != 1 || msgs[0].ReceiveCount != want {
			t.Fatalf("receive %d: %v %v", want, msgs, err)
		}
		if err := src.Nack(t.Context(), msgs[0], 0); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := src.Receive(t.Context(), 10)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("third receive: %d messages, %v; want the redrive policy to move it", len(msgs), err)
	}
	dlq := src.DLQ()
	if len(dlq) != 1 || dlq[0].Attributes["k"] != "v" {
		t.Fatalf("DLQ = %+v", dlq)
	}
	if _, _, ok := worker.ParseDeadLetterInfo(dlq[0].Attributes); ok {
		t.Error("redrive-policy move must not carry reason attributes")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	src := workertest.NewSource(workertest.Config{})
	done := make(chan error, 1)
	go func() {
		_, err := src.Receive(t.Context(), 1)
		done <- err
	}()
	src.Close()
	if err := <-done; !errors.Is(err, worker.ErrSourceClosed) {
		t.Fatalf("Receive after Close: %v", err)
	}
}

func TestDelayedPush(t *testing.T) {
	t.Parallel()
	src := workertest.NewSource(workertest.Config{WaitTime: 5 * time.Second})
	src.PushDelayed([]byte("later"), nil, 300*time.Millisecond)
	if c := src.Counts(); c.Delayed != 1 || c.Visible != 0 {
		t.Fatalf("counts = %+v", c)
	}
	msgs, err := src.Receive(t.Context(), 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Receive: %d, %v", len(msgs), err)
	}
}
