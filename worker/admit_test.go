package worker_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

// keeper is an Admitter that keeps every message whose body starts with
// "hold" until the test starts it (in the order it chooses) or gives it
// back; others start at once.
type keeper struct {
	mu     sync.Mutex
	kept   map[string]func(worker.Admission) // by body
	asked  []string
	closed atomic.Bool
	done   atomic.Int64 // admissions given back with Done
}

func newKeeper() *keeper { return &keeper{kept: map[string]func(worker.Admission){}} }

type place struct {
	k    *keeper
	once sync.Once
}

func (p *place) Done() { p.once.Do(func() { p.k.done.Add(1) }) }

func (k *keeper) Admit(m *worker.Message, start func(worker.Admission)) (worker.Admission, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked = append(k.asked, string(m.Body))
	if !strings.HasPrefix(string(m.Body), "hold") || k.closed.Load() {
		return &place{k: k}, true
	}
	k.kept[string(m.Body)] = start
	return nil, false
}

func (k *keeper) Close() {
	k.closed.Store(true)
	k.mu.Lock()
	var starts []func(worker.Admission)
	for body, start := range k.kept {
		starts = append(starts, start)
		delete(k.kept, body)
	}
	k.mu.Unlock()
	for _, start := range starts {
		start(nil)
	}
}

func (k *keeper) holding() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.kept)
}

// release starts (or, give back, returns) the kept message body.
func (k *keeper) release(t *testing.T, body string, giveBack bool) {
	t.Helper()
	k.mu.Lock()
	start, ok := k.kept[body]
	delete(k.kept, body)
	k.mu.Unlock()
	if !ok {
		t.Fatalf("%s is not kept", body)
	}
	if giveBack {
		start(nil)
		return
	}
	start(&place{k: k})
}

// handled records the bodies its handler saw, in order, and whether each
// carried its admission.
type handled struct {
	mu     sync.Mutex
	bodies []string
	counts []int
}

func (h *handled) Handle(ctx context.Context, m *worker.Message) error {
	if _, ok := worker.Admitted(ctx).(*place); !ok {
		return worker.Permanent(nil, "no_admission")
	}
	h.mu.Lock()
	h.bodies = append(h.bodies, string(m.Body))
	h.counts = append(h.counts, m.ReceiveCount)
	h.mu.Unlock()
	return nil
}

func (h *handled) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}

// Held messages cost no goroutine: holding thousands leaves the number of
// goroutines where it was; they start, with their admission, in the order
// the Admitter starts them, and each admission is given back once.
func TestHeldMessagesHaveNoGoroutineAndStartWhenAdmitted(t *testing.T) {
	t.Parallel()
	const n = 2000
	src := memSource(workertest.Config{})
	k, h := newKeeper(), &handled{}
	cfg := baseConfig(src, h)
	cfg.Admitter, cfg.Concurrency = k, n+4
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	rr := start(t, cfg)
	src.Push([]byte("go-0"), nil)
	waitFor(t, "a message not held", func() bool { return len(h.seen()) == 1 })
	before := runtime.NumGoroutine()
	for i := range n {
		src.Push([]byte("hold-"+itoa(i)), nil)
	}
	waitFor(t, "every message held", func() bool { return k.holding() == n })
	if got := runtime.NumGoroutine(); got > before+20 {
		t.Fatalf("%d goroutines while holding %d messages, %d before: one per held message?", got, n, before)
	}
	if got := metricValue(t, reg, "tenantry_worker_held", nil); got != n {
		t.Fatalf("held gauge %v, want %d", got, n)
	}
	if st := rr.r.Stats(); st.InFlight != n {
		t.Fatalf("in flight %d, want %d (held messages hold their slots)", st.InFlight, n)
	}
	order := []string{"hold-7", "hold-3", "hold-1999", "hold-0"}
	for _, body := range order {
		k.release(t, body, false)
		waitFor(t, body+" handled", func() bool { s := h.seen(); return s[len(s)-1] == body })
	}
	if got := h.seen()[1:]; !slices.Equal(got, order) {
		t.Fatalf("handled %v, want %v", got, order)
	}
	waitFor(t, "admissions given back", func() bool { return k.done.Load() == int64(1+len(order)) })
	if err := rr.stop(t); err != nil {
		t.Fatal(err)
	}
}

// The drain gives held messages back at once: visible again, never
// handled, the Admitter closed, Run not waiting out DrainTimeout for them.
// A message given back by the Admitter (start(nil)) is released the same
// way meanwhile.
func TestDrainReturnsHeldMessages(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{})
	rec := &recorder{Source: src}
	k, h := newKeeper(), &handled{}
	cfg := baseConfig(rec, h)
	cfg.Admitter, cfg.Concurrency, cfg.DrainTimeout = k, 10, 10*time.Minute
	rr := start(t, cfg)
	for i := range 3 {
		src.Push([]byte("hold-"+itoa(i)), nil)
	}
	waitFor(t, "three held", func() bool { return k.holding() == 3 })
	k.release(t, "hold-1", true)
	waitFor(t, "the given-back message released", func() bool { return rr.r.Stats().Released == 1 })
	waitFor(t, "it is received and held again", func() bool { return k.holding() == 3 })
	if err := rr.stop(t); err != nil {
		t.Fatal(err)
	}
	if !k.closed.Load() {
		t.Fatal("the Admitter was not closed")
	}
	c := src.Counts()
	if c.Visible != 3 || c.InFlight != 0 || c.Acks != 0 {
		t.Fatalf("after the drain: %+v, want 3 visible, none in flight or acked", c)
	}
	for _, d := range rec.nackDelays() {
		if d != 0 {
			t.Fatalf("held message put back with delay %s, want 0", d)
		}
	}
	if got := h.seen(); len(got) != 0 {
		t.Fatalf("held messages were handled: %v", got)
	}
	if st := rr.r.Stats(); st.Released != 4 || st.Failed != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v, want 4 released, none failed or in flight", st)
	}
}

// A held message stays invisible beyond the visibility timeout through
// the runner's heartbeats (batched), and when it starts it is the same
// delivery: never received twice.
func TestHeldMessagesStayInvisible(t *testing.T) {
	t.Parallel()
	const vis, beat = time.Second, 100 * time.Millisecond
	src := memSource(workertest.Config{VisibilityTimeout: vis})
	k, h := newKeeper(), &handled{}
	cfg := baseConfig(src, h)
	cfg.Admitter, cfg.VisibilityTimeout, cfg.HeartbeatInterval = k, vis, beat
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	start(t, cfg)
	for i := range 3 {
		src.Push([]byte("hold-"+itoa(i)), nil)
	}
	waitFor(t, "three held", func() bool { return k.holding() == 3 })
	// 15 extensions of each, at least a HeartbeatInterval apart: held
	// longer than the visibility timeout.
	waitFor(t, "held past the visibility timeout", func() bool {
		return metricValue(t, reg, "tenantry_worker_heartbeats_total", nil) >= 3*float64(vis/beat+5)
	})
	c := src.Counts()
	if c.Receives != 3 || c.Visible != 0 {
		t.Fatalf("%+v: a held message became visible", c)
	}
	if c.ExtendCalls >= c.Extends {
		t.Fatalf("%d extend calls for %d extensions: not batched", c.ExtendCalls, c.Extends)
	}
	for i := range 3 {
		k.release(t, "hold-"+itoa(i), false)
	}
	waitFor(t, "all handled", func() bool { return len(h.seen()) == 3 })
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, n := range h.counts {
		if n != 1 {
			t.Fatalf("%s: receive count %d, want 1", h.bodies[i], n)
		}
	}
}

// A message received after its last allowed attempt is dead-lettered
// without asking the Admitter (it would never be handled): here a held
// message left without heartbeats is received again.
func TestOverReceivedMessagesAreNotAdmitted(t *testing.T) {
	t.Parallel()
	src := memSource(workertest.Config{VisibilityTimeout: time.Second})
	k, h := newKeeper(), &handled{}
	cfg := baseConfig(src, h)
	cfg.Admitter, cfg.MaxReceiveCount = k, 1
	cfg.VisibilityTimeout, cfg.HeartbeatInterval = time.Second, -1
	start(t, cfg)
	src.Push([]byte("hold-0"), nil)
	waitFor(t, "dead-lettered", func() bool { return src.Counts().DeadLettered == 1 })
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.asked) != 1 || len(k.kept) != 1 {
		t.Fatalf("the Admitter was asked %d times (keeps %d), want once", len(k.asked), len(k.kept))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
