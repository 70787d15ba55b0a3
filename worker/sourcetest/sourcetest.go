// Package sourcetest is the conformance suite every worker.Source must pass:
// the behaviour the runner relies on (visibility, receive counts, batching,
// dead-lettering with reasons, prompt cancellation), checked against the
// real transport. Call Run from a test in the Source's package.
//
// It only uses the worker.Source interface and a Sender the test provides;
// it must never depend on a particular transport.
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tenantry/tenantry/worker"
)

// VisibilityTimeout is the visibility timeout the factory must give the
// Source it builds (whole seconds, as SQS requires).
const VisibilityTimeout = 3 * time.Second

// Sender is the producer side of the queue under test, and a reader of its
// dead-letter queue.
type Sender interface {
	// Send enqueues one message with string attributes.
	Send(ctx context.Context, body []byte, attrs map[string]string) error
	// DeadLetters removes and returns the messages now in the dead-letter
	// queue (with their attributes), waiting until there is at least one
	// or ctx ends (then it returns what it has, possibly nothing).
	DeadLetters(ctx context.Context) ([]*worker.Message, error)
}

// Factory builds a fresh, empty queue with a dead-letter queue and a Source
// on it with VisibilityTimeout (and no redrive policy that could move
// messages within a few receives). It is called once per subtest, possibly
// in parallel; it should remove what it creates in t.Cleanup.
type Factory func(t *testing.T) (worker.Source, Sender)

// Run runs the conformance suite against the sources newSource builds.
func Run(t *testing.T, newSource Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, src worker.Source, snd Sender)
	}{
		{"ReceiveDeliversBodyAndAttributes", testReceive},
		{"AckDeletes", testAckDeletes},
		{"NackWithDelayHidesThenReturns", testNackDelay},
		{"NackZeroReturnsAtOnce", testNackZero},
		{"ExtendKeepsHiddenPastVisibilityTimeout", testExtend},
		{"ExtendBatchKeepsHiddenAndRefusesStale", testExtendBatch},
		{"ReceiveCountIncrements", testReceiveCount},
		{"VisibilityTimeoutRedelivers", testRedeliver},
		{"DeadLetterMovesBodyAttributesAndReason", testDeadLetter},
		{"DeadLetterStaysWithinAttributeLimit", testDeadLetterAttributeLimit},
		{"BatchAckOfMoreThanTen", testBatchAck},
		{"ReceiveNeverReturnsMoreThanMax", testReceiveMax},
		{"StaleDeliveryIsNotInFlight", testStale},
		{"CancelledReceiveReturnsPromptly", testCancel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, snd := newSource(t)
			tc.fn(t, src, snd)
		})
	}
}

// receive polls until it gets at least one message or within elapses.
func receive(t *testing.T, src worker.Source, within time.Duration) []*worker.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		msgs, err := src.Receive(ctx, 10)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive: %v", err)
		}
		if len(msgs) > 10 {
			t.Fatalf("Receive(max=10) returned %d messages", len(msgs))
		}
		if len(msgs) > 0 {
			return msgs
		}
	}
	return nil
}

func receiveOne(t *testing.T, src worker.Source, within time.Duration) *worker.Message {
	t.Helper()
	msgs := receive(t, src, within)
	if len(msgs) != 1 {
		t.Fatalf("want 1 message within %s, got %d", within, len(msgs))
	}
	return msgs[0]
}

// expectNothing fails if any message is received during d.
func expectNothing(t *testing.T, src worker.Source, d time.Duration, why string) {
	t.Helper()
	if msgs := receive(t, src, d); len(msgs) > 0 {
		t.Fatalf("%s: received %d message(s) (receive count %d)", why, len(msgs), msgs[0].ReceiveCount)
	}
}

func send(t *testing.T, snd Sender, body string, attrs map[string]string) {
	t.Helper()
	if err := snd.Send(t.Context(), []byte(body), attrs); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

func opCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testReceive(t *testing.T, src worker.Source, snd Sender) {
	body := `{"job":{"type":"ingest","key":"t/d/été 1.txt"}}` + "\n\ttab"
	attrs := map[string]string{"tenantry-envelope": "aGVhZA.Y2xhaW1z.c2ln", "custom": "value with spaces"}
	before := time.Now()
	send(t, snd, body, attrs)
	m := receiveOne(t, src, 10*time.Second)
	if m.ID == "" || m.Handle == "" {
		t.Errorf("ID %q and Handle %q must be set", m.ID, m.Handle)
	}
	if string(m.Body) != body {
		t.Errorf("Body = %q, want %q", m.Body, body)
	}
	for k, v := range attrs {
		if m.Attributes[k] != v {
			t.Errorf("Attributes[%q] = %q, want %q", k, m.Attributes[k], v)
		}
	}
	if m.ReceiveCount != 1 {
		t.Errorf("ReceiveCount = %d, want 1", m.ReceiveCount)
	}
	const skew = time.Minute
	if m.SentAt.Before(before.Add(-skew)) || m.SentAt.After(time.Now().Add(skew)) {
		t.Errorf("SentAt = %v, want about %v", m.SentAt, before)
	}
	if m.FirstReceivedAt.IsZero() || m.FirstReceivedAt.Before(m.SentAt.Add(-time.Second)) {
		t.Errorf("FirstReceivedAt = %v (SentAt %v)", m.FirstReceivedAt, m.SentAt)
	}
}

func testAckDeletes(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "ack me", nil)
	m := receiveOne(t, src, 10*time.Second)
	if err := src.Ack(opCtx(t), m); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	expectNothing(t, src, VisibilityTimeout+time.Second, "acked message came back")
}

func testNackDelay(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "nack me later", nil)
	m := receiveOne(t, src, 10*time.Second)
	delay := 2 * VisibilityTimeout
	nacked := time.Now()
	if err := src.Nack(opCtx(t), m, delay); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	// Hidden past the original visibility timeout, up to the delay.
	expectNothing(t, src, delay-time.Second, "message back before its delay")
	m2 := receiveOne(t, src, delay+5*time.Second)
	if m2.ID != m.ID || m2.ReceiveCount != 2 {
		t.Errorf("redelivery: ID %q count %d, want %q count 2", m2.ID, m2.ReceiveCount, m.ID)
	}
	if since := time.Since(nacked); since < delay-500*time.Millisecond {
		t.Errorf("redelivered %s after Nack(%s)", since, delay)
	}
}

func testNackZero(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "nack me now", nil)
	m := receiveOne(t, src, 10*time.Second)
	if err := src.Nack(opCtx(t), m, 0); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	// Before the visibility timeout would have expired.
	m2 := receiveOne(t, src, VisibilityTimeout*2/3)
	if m2.ID != m.ID || m2.ReceiveCount != 2 {
		t.Errorf("redelivery: ID %q count %d, want %q count 2", m2.ID, m2.ReceiveCount, m.ID)
	}
}

func testExtend(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "extend me", nil)
	m := receiveOne(t, src, 10*time.Second)
	received := time.Now()
	ext := 3 * VisibilityTimeout
	if err := src.Extend(opCtx(t), m, ext); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	// Hidden well past the original visibility timeout.
	until := received.Add(VisibilityTimeout + 2*time.Second)
	expectNothing(t, src, time.Until(until), "extended message came back early")
	m2 := receiveOne(t, src, ext+5*time.Second)
	if m2.ID != m.ID || m2.ReceiveCount != 2 {
		t.Errorf("redelivery: ID %q count %d, want %q count 2", m2.ID, m2.ReceiveCount, m.ID)
	}
}

// testExtendBatch holds a source that is a worker.BatchExtender to what
// Extend does, per message: two held deliveries stay hidden past the
// visibility timeout, and a deleted one in the same batch is not in flight.
func testExtendBatch(t *testing.T, src worker.Source, snd Sender) {
	be, ok := src.(worker.BatchExtender)
	if !ok {
		t.Skip("the source extends one message at a time")
	}
	for _, b := range []string{"batch 1", "batch 2", "batch 3"} {
		send(t, snd, b, nil)
	}
	var msgs []*worker.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs) < 3 && time.Now().Before(deadline) {
		msgs = append(msgs, receive(t, src, time.Until(deadline))...)
	}
	if len(msgs) != 3 {
		t.Fatalf("received %d of 3", len(msgs))
	}
	received := time.Now()
	if err := src.Ack(opCtx(t), msgs[2]); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	ext := 3 * VisibilityTimeout
	errs := be.ExtendBatch(opCtx(t), msgs, ext)
	if len(errs) != 3 {
		t.Fatalf("ExtendBatch answered %d of 3", len(errs))
	}
	for i, err := range errs[:2] {
		if err != nil {
			t.Errorf("ExtendBatch[%d]: %v", i, err)
		}
	}
	if !errors.Is(errs[2], worker.ErrNotInFlight) {
		t.Errorf("ExtendBatch of a deleted delivery: %v, want ErrNotInFlight", errs[2])
	}
	until := received.Add(VisibilityTimeout + 2*time.Second)
	expectNothing(t, src, time.Until(until), "a message extended in a batch came back early")
}

func testReceiveCount(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "count me", nil)
	var first *worker.Message
	for want := 1; want <= 3; want++ {
		m := receiveOne(t, src, 10*time.Second)
		if m.ReceiveCount != want {
			t.Fatalf("receive %d: ReceiveCount = %d", want, m.ReceiveCount)
		}
		if first == nil {
			first = m
		} else {
			if m.ID != first.ID {
				t.Fatalf("ID changed: %q then %q", first.ID, m.ID)
			}
			if m.Handle == first.Handle {
				t.Errorf("receive %d reused the first delivery's handle", want)
			}
			if d := m.FirstReceivedAt.Sub(first.FirstReceivedAt).Abs(); d > time.Second {
				t.Errorf("FirstReceivedAt moved by %s", d)
			}
		}
		if err := src.Nack(opCtx(t), m, 0); err != nil {
			t.Fatalf("Nack: %v", err)
		}
	}
}

func testRedeliver(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "forget me", nil)
	m := receiveOne(t, src, 10*time.Second)
	m2 := receiveOne(t, src, VisibilityTimeout+5*time.Second)
	if m2.ID != m.ID || m2.ReceiveCount != 2 {
		t.Errorf("redelivery: ID %q count %d, want %q count 2", m2.ID, m2.ReceiveCount, m.ID)
	}
}

func testDeadLetter(t *testing.T, src worker.Source, snd Sender) {
	body := `{"Records":[{"s3":{"object":{"key":"a+b"}}}]}`
	attrs := map[string]string{"tenantry-envelope": "eyJhbGciOiJFUzI1NiJ9.e30.sig", "producer": "backend-7"}
	send(t, snd, body, attrs)
	m := receiveOne(t, src, 10*time.Second)
	info := worker.DeadLetterInfo{
		Reason: "bad_signature", Stage: "envelope", Error: "envelope: signature does not verify",
		Attempts: m.ReceiveCount, At: time.Now(),
	}
	if err := src.DeadLetter(opCtx(t), m, info); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dl, err := snd.DeadLetters(ctx)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dl) != 1 {
		t.Fatalf("dead-letter queue has %d messages, want 1", len(dl))
	}
	d := dl[0]
	if string(d.Body) != body {
		t.Errorf("dead-lettered body = %q, want %q", d.Body, body)
	}
	for k, v := range attrs {
		if d.Attributes[k] != v {
			t.Errorf("original attribute %q = %q, want %q", k, d.Attributes[k], v)
		}
	}
	got, origID, ok := worker.ParseDeadLetterInfo(d.Attributes)
	if !ok {
		t.Fatalf("no reason attributes on the dead-lettered message: %v", d.Attributes)
	}
	if got.Reason != "bad_signature" || got.Stage != "envelope" || got.Error != info.Error || got.Attempts != 1 {
		t.Errorf("dead-letter info = %+v", got)
	}
	if got.At.IsZero() || got.At.Sub(info.At).Abs() > time.Second {
		t.Errorf("dead-lettered-at = %v, want about %v", got.At, info.At)
	}
	if origID != m.ID {
		t.Errorf("original message id = %q, want %q", origID, m.ID)
	}
	expectNothing(t, src, VisibilityTimeout+time.Second, "dead-lettered original still in the queue")
}

func testDeadLetterAttributeLimit(t *testing.T, src worker.Source, snd Sender) {
	attrs := map[string]string{}
	for i := range 8 {
		attrs["a"+strconv.Itoa(i)] = strconv.Itoa(i)
	}
	send(t, snd, "many attributes", attrs)
	m := receiveOne(t, src, 10*time.Second)
	if err := src.DeadLetter(opCtx(t), m, worker.DeadLetterInfo{Reason: "r", Stage: "s", Error: "e", Attempts: 1}); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dl, err := snd.DeadLetters(ctx)
	if err != nil || len(dl) != 1 {
		t.Fatalf("DeadLetters: %d messages, %v", len(dl), err)
	}
	d := dl[0]
	if len(d.Attributes) > worker.MaxAttributes {
		t.Errorf("dead-lettered message has %d attributes, more than %d", len(d.Attributes), worker.MaxAttributes)
	}
	for k, v := range attrs {
		if d.Attributes[k] != v {
			t.Errorf("original attribute %q lost", k)
		}
	}
	if d.Attributes[worker.AttrReason] != "r" || d.Attributes[worker.AttrStage] != "s" {
		t.Errorf("reason and stage must fit: %v", d.Attributes)
	}
}

func testBatchAck(t *testing.T, src worker.Source, snd Sender) {
	const n = 25
	for i := range n {
		send(t, snd, fmt.Sprintf("batch %d", i), nil)
	}
	var got []*worker.Message
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		for _, m := range receive(t, src, time.Until(deadline)) {
			if seen[m.ID] {
				t.Fatalf("message %s delivered twice while held", m.ID)
			}
			seen[m.ID] = true
			got = append(got, m)
		}
	}
	if len(got) != n {
		t.Fatalf("received %d of %d messages", len(got), n)
	}
	if err := src.Ack(opCtx(t), got...); err != nil {
		t.Fatalf("Ack(%d messages): %v", n, err)
	}
	expectNothing(t, src, VisibilityTimeout+time.Second, "acked messages came back")
}

func testReceiveMax(t *testing.T, src worker.Source, snd Sender) {
	for i := range 5 {
		send(t, snd, fmt.Sprintf("max %d", i), nil)
	}
	total := 0
	deadline := time.Now().Add(10 * time.Second)
	for total < 5 && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		msgs, err := src.Receive(ctx, 2)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive: %v", err)
		}
		if len(msgs) > 2 {
			t.Fatalf("Receive(max=2) returned %d messages", len(msgs))
		}
		total += len(msgs)
	}
	if total != 5 {
		t.Fatalf("received %d of 5", total)
	}
}

func testStale(t *testing.T, src worker.Source, snd Sender) {
	send(t, snd, "stale", nil)
	m := receiveOne(t, src, 10*time.Second)
	if err := src.Ack(opCtx(t), m); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := src.Extend(opCtx(t), m, VisibilityTimeout); !errors.Is(err, worker.ErrNotInFlight) {
		t.Errorf("Extend after Ack: %v, want ErrNotInFlight", err)
	}
	if err := src.Nack(opCtx(t), m, 0); !errors.Is(err, worker.ErrNotInFlight) {
		t.Errorf("Nack after Ack: %v, want ErrNotInFlight", err)
	}
	if err := src.Ack(opCtx(t), m); err != nil {
		t.Errorf("second Ack: %v (deleting twice must be harmless)", err)
	}
}

func testCancel(t *testing.T, src worker.Source, _ Sender) {
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		msgs []*worker.Message
		err  error
	}
	done := make(chan result, 1)
	go func() {
		msgs, err := src.Receive(ctx, 10)
		done <- result{msgs, err}
	}()
	// Cancel once the receive is (very likely) blocked on the empty queue;
	// the assertions hold either way.
	stop := time.AfterFunc(200*time.Millisecond, cancel)
	defer stop.Stop()
	select {
	case r := <-done:
		if len(r.msgs) != 0 {
			t.Errorf("Receive on an empty queue returned %d messages", len(r.msgs))
		}
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled Receive returned %v, want an error wrapping context.Canceled", r.err)
		}
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("Receive did not return within 5s of its context being cancelled")
	}
}
