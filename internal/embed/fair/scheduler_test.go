package fair_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/embed/fair"
	"github.com/tenantry/tenantry/internal/embed/offline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newScheduler(t testing.TB, slots int) *fair.Scheduler {
	t.Helper()
	s, err := fair.New(slots)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hold takes n slots until the returned func is called.
func hold(t testing.TB, s *fair.Scheduler, n int) func() {
	t.Helper()
	var held sync.WaitGroup
	held.Add(n)
	release := make(chan struct{})
	for range n {
		go func() {
			_ = s.Do(context.Background(), "holder", func(context.Context) error {
				held.Done()
				<-release
				return nil
			})
		}()
	}
	held.Wait()
	return func() { close(release) }
}

// waitQueued polls until the tenants have n calls waiting.
func waitQueued(t testing.TB, s *fair.Scheduler, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.Waiting()
		ok := true
		for k, n := range want {
			if got[k] != n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %v, want %v", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	s := newScheduler(t, 1)
	release := hold(t, s, 1)
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(tenant string, n int, queued map[string]int) {
		for i := range n {
			wg.Go(func() {
				_ = s.Do(context.Background(), tenant, func(context.Context) error {
					mu.Lock()
					order = append(order, fmt.Sprintf("%s%d", tenant, i))
					mu.Unlock()
					return nil
				})
			})
			queued[tenant] = i + 1
			waitQueued(t, s, queued) // one at a time: FIFO within a tenant
		}
	}
	queued := map[string]int{}
	enqueue("a", 3, queued)
	enqueue("b", 2, queued)
	enqueue("c", 1, queued)
	release()
	wg.Wait()
	if got, want := fmt.Sprint(order), "[a0 b0 c0 a1 b1 a2]"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
}

// TestSmallTenantNotStarved queues 10,000 items of one tenant before 10 of
// another: the small tenant finishes among the first few dozen items.
func TestSmallTenantNotStarved(t *testing.T) {
	t.Parallel()
	// One slot: the order items finish in is the order the scheduler
	// granted them (with more slots, a granted item whose goroutine runs
	// late lets the other slots finish any number of items first, so the
	// bound below would depend on the machine's load).
	const slots = 1
	s := newScheduler(t, slots)
	release := hold(t, s, slots)
	var mu sync.Mutex
	done := 0
	smallLast := -1
	smallDone := 0
	var wg sync.WaitGroup
	run := func(tenant string) {
		_ = s.Do(context.Background(), tenant, func(context.Context) error {
			mu.Lock()
			done++
			if tenant == "small" {
				smallDone++
				smallLast = done
			}
			mu.Unlock()
			return nil
		})
	}
	for range 10000 {
		wg.Go(func() { run("big") })
	}
	waitQueued(t, s, map[string]int{"big": 10000})
	for range 10 {
		wg.Go(func() { run("small") })
	}
	waitQueued(t, s, map[string]int{"small": 10})
	release()
	wg.Wait()
	if smallDone != 10 || smallLast > 2*10+slots {
		t.Fatalf("the small tenant's 10th item finished as item %d of %d", smallLast, done)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	s := newScheduler(t, 1)
	release := hold(t, s, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Do(ctx, "t", func(context.Context) error { return nil }) }()
	waitQueued(t, s, map[string]int{"t": 1})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if w := s.Waiting(); len(w) != 0 {
		t.Fatalf("still waiting: %v", w)
	}
	release()
	// The slot is free again.
	if err := s.Do(context.Background(), "t", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestNoSlotLost cancels waiters at random while work flows: afterwards
// every slot can still be taken at once.
func TestNoSlotLost(t *testing.T) {
	t.Parallel()
	const slots = 3
	s := newScheduler(t, slots)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(300))*time.Microsecond)
			defer cancel()
			_ = s.Do(ctx, fmt.Sprint("t", i%7), func(context.Context) error {
				time.Sleep(50 * time.Microsecond)
				return nil
			})
		})
	}
	wg.Wait()
	var in sync.WaitGroup
	in.Add(slots)
	all := make(chan struct{})
	for range slots {
		go func() {
			_ = s.Do(context.Background(), "x", func(context.Context) error {
				in.Done()
				<-all
				return nil
			})
		}()
	}
	in.Wait() // all slots were granted at once
	close(all)
}

func TestEmbedderUsesTheContextTenant(t *testing.T) {
	t.Parallel()
	s := newScheduler(t, 1)
	off, _ := offline.New(offline.Config{Dims: 16})
	e := s.Embedder(off)
	if e.Model() != offline.Model || e.Dimensions() != 16 {
		t.Fatal("model or dimension not passed through")
	}
	release := hold(t, s, 1)
	done := make(chan error, 1)
	go func() {
		_, err := e.Embed(fair.WithTenant(context.Background(), "tenant-a"), []string{"x"})
		done <- err
	}()
	waitQueued(t, s, map[string]int{"tenant-a": 1})
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fair.TenantFrom(context.Background()) != "" {
		t.Fatal("tenant from an empty context")
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	if _, err := fair.New(0); err == nil {
		t.Fatal("New(0) accepted")
	}
}

func ExampleNew() {
	s, _ := fair.New(4) // e.g. the embedding provider's concurrency
	err := s.Do(context.Background(), "tenant-a", func(ctx context.Context) error {
		fmt.Println("embedding tenant-a's chunks")
		return nil
	})
	fmt.Println(err)
	// Output:
	// embedding tenant-a's chunks
	// <nil>
}

// BenchmarkSmallTenant reports how long a tenant's 10 items take when
// another tenant has 10,000 queued ahead of them: alone, with the big
// tenant under the fair scheduler, and with a plain FIFO semaphore. Each
// item holds a slot for 200 µs; 4 slots.
func BenchmarkSmallTenant(b *testing.B) {
	const slots, item = 4, 200 * time.Microsecond
	work := func(context.Context) error { time.Sleep(item); return nil }
	for _, mode := range []string{"alone", "with-10000-fair", "with-10000-fifo"} {
		b.Run(mode, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				total += smallTenantTime(b, mode, slots, work)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "small-ms")
		})
	}
}

func smallTenantTime(b *testing.B, mode string, slots int, work func(context.Context) error) time.Duration {
	var do func(tenant string) error
	var release func()
	if mode == "with-10000-fifo" {
		// A channel semaphore: blocked senders are served in arrival order.
		sem := make(chan struct{}, slots)
		for range slots {
			sem <- struct{}{}
		}
		release = func() {
			for range slots {
				<-sem
			}
		}
		do = func(string) error {
			sem <- struct{}{}
			defer func() { <-sem }()
			return work(context.Background())
		}
	} else {
		s := newScheduler(b, slots)
		release = hold(b, s, slots)
		do = func(tenant string) error { return s.Do(context.Background(), tenant, work) }
	}
	var big sync.WaitGroup
	if mode != "alone" {
		for range 10000 {
			big.Go(func() { _ = do("big") })
		}
		time.Sleep(50 * time.Millisecond) // let them queue first (benchmark only)
	}
	var small sync.WaitGroup
	for range 10 {
		small.Go(func() { _ = do("small") })
	}
	time.Sleep(5 * time.Millisecond)
	start := time.Now()
	release()
	small.Wait()
	elapsed := time.Since(start)
	big.Wait()
	return elapsed
}

func ExampleScheduler_Embedder() {
	s, _ := fair.New(4)
	off, _ := offline.New(offline.Config{Dims: 64})
	e := s.Embedder(off) // a pipeline.Embedder; each call waits for its tenant's turn
	ctx := fair.WithTenant(context.Background(), "7d3c0e8e-0000-4000-8000-000000000001")
	vecs, err := e.Embed(ctx, []string{"hello"})
	fmt.Println(len(vecs), err)
	// Output: 1 <nil>
}
