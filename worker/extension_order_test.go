package worker_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

// gated wraps the in-memory queue so that every visibility extension stays
// in flight until open is closed and only then reaches the queue, even when
// the caller gave up on it meanwhile (a request already on the wire). It
// records, in order, each extension as it reaches the queue and each Nack.
// As a worker.Source it extends one message per call; gatedBatch adds
// ExtendBatch.
type gated struct {
	worker.Source
	mem *workertest.Source

	entered chan extendCall      // the first extension call
	nacked  chan *worker.Message // the first Nack's message
	open    chan struct{}        // closed: extensions proceed
	late    sync.WaitGroup

	mu     sync.Mutex
	events []string // "extend <handle>" or "nack <handle>", by delivery
}

func newGated() *gated {
	mem := memSource(workertest.Config{})
	return &gated{
		Source: mem, mem: mem,
		entered: make(chan extendCall, 1), nacked: make(chan *worker.Message, 1), open: make(chan struct{}),
	}
}

func (g *gated) record(ev string) {
	g.mu.Lock()
	g.events = append(g.events, ev)
	g.mu.Unlock()
}

func (g *gated) recorded() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events)
}

// inFlight waits until open, or until ctx ends: then the call returns but
// land still reaches the queue once open.
func (g *gated) inFlight(ctx context.Context, msgs []*worker.Message, d time.Duration) error {
	select {
	case g.entered <- extendCall{m: msgs[0], ctx: ctx}:
	default:
	}
	select {
	case <-g.open:
		g.land(msgs, d)
		return nil
	case <-ctx.Done():
		g.late.Go(func() {
			<-g.open
			g.land(msgs, d)
		})
		return ctx.Err()
	}
}

func (g *gated) land(msgs []*worker.Message, d time.Duration) {
	for _, m := range msgs {
		g.record("extend " + m.Handle)
		_ = g.mem.Extend(context.Background(), m, d)
	}
}

func (g *gated) Extend(ctx context.Context, m *worker.Message, d time.Duration) error {
	return g.inFlight(ctx, []*worker.Message{m}, d)
}

func (g *gated) Nack(ctx context.Context, m *worker.Message, delay time.Duration) error {
	g.record("nack " + m.Handle)
	select {
	case g.nacked <- m:
	default:
	}
	return g.mem.Nack(ctx, m, delay)
}

// extendCall is an extension call in flight: its (first) message and its
// context.
type extendCall struct {
	m   *worker.Message
	ctx context.Context
}

type gatedBatch struct{ *gated }

func (g gatedBatch) ExtendBatch(ctx context.Context, msgs []*worker.Message, d time.Duration) []error {
	errs := make([]error, len(msgs))
	if err := g.inFlight(ctx, msgs, d); err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// A message is made visible again (a Nack after a fast failure, or given
// back by the Admitter) only once no extension of it is in flight: an
// extension sent before the Nack and answered after it would hide the
// message again for a whole visibility timeout, overriding the Nack's
// delay. The test holds an extension in flight, makes the message leave,
// and requires the runner to wait for the extension (it says so through the
// hook) rather than send the Nack; once the extension is let through, the
// Nack follows it.
func TestNoExtensionLandsAfterTheNack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		batch    bool // the source is a BatchExtender
		held     bool // the Admitter holds the message; the extension is the hold's
		giveBack bool // the Admitter gives it back instead of starting it
	}{
		{name: "held, started, fails at once, batched", batch: true, held: true},
		{name: "held, started, fails at once, one by one", held: true},
		{name: "held, given back, batched", batch: true, held: true, giveBack: true},
		{name: "held, given back, one by one", held: true, giveBack: true},
		{name: "running, fails while its heartbeat is in flight, batched", batch: true},
		{name: "running, fails while its heartbeat is in flight, one by one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGated()
			var src worker.Source = g
			if tc.batch {
				src = gatedBatch{g}
			}
			fail := make(chan struct{})
			if tc.held {
				close(fail) // the handler fails as soon as it starts
			}
			h := worker.HandlerFunc(func(context.Context, *worker.Message) error {
				<-fail
				return worker.RetryAfter(time.Second, nil)
			})
			k := newKeeper()
			cfg := baseConfig(src, h)
			cfg.Admitter = k
			cfg.HeartbeatInterval = 4 * time.Millisecond
			r, err := worker.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			waited := make(chan *worker.Message, 1)
			worker.SetExtensionWait(r, func(m *worker.Message) {
				select {
				case waited <- m:
				default:
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			stopped := false
			stop := func() {
				if stopped {
					return
				}
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}
			t.Cleanup(func() {
				select {
				case <-g.open:
				default:
					close(g.open)
				}
				stop()
				g.late.Wait()
			})

			body := "go-1"
			if tc.held {
				body = "hold-1"
			}
			id := g.mem.Push([]byte(body), nil)
			var call extendCall
			select {
			case call = <-g.entered:
			case <-time.After(15 * time.Second):
				t.Fatal("timed out waiting for an extension in flight")
			}
			m := call.m
			if m.ID != id {
				t.Fatalf("extension of %s, want %s", m.ID, id)
			}
			switch {
			case tc.held:
				k.release(t, body, tc.giveBack)
			default:
				close(fail)
			}
			select {
			case got := <-g.nacked:
				t.Fatalf("%s nacked while an extension of it was in flight", got.ID)
			case got := <-waited:
				if got.ID != id {
					t.Fatalf("waited for an extension of %s, want %s", got.ID, id)
				}
				// Whatever waits has stopped the heartbeat already: the
				// call must not have been abandoned (it would return,
				// and the Nack follow, before the queue applies it).
				if call.ctx.Err() != nil {
					t.Fatalf("the extension in flight was abandoned (%v): it may land after the nack", call.ctx.Err())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("neither a nack nor a wait for the extension")
			}
			close(g.open)
			if got := receive(t, g.nacked, "the nack"); got.Handle != m.Handle {
				t.Fatalf("nacked %s, want the delivery extended", got.ID)
			}
			stop()
			g.late.Wait()
			evs := g.recorded()
			nack := slices.Index(evs, "nack "+m.Handle)
			for _, ev := range evs[nack+1:] {
				if strings.HasSuffix(ev, " "+m.Handle) {
					t.Fatalf("%q after the nack: %v", ev, evs)
				}
			}
			if !slices.Contains(evs[:nack], "extend "+m.Handle) {
				t.Fatalf("the extension in flight did not land before the nack: %v", evs)
			}
		})
	}
}

// receive returns the next value of ch, failing the test after 15s.
func receive(t *testing.T, ch <-chan *worker.Message, what string) *worker.Message {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}
