package dispatch_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/dispatch"
)

// waitFor polls cond (no fixed sleeps).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type job struct {
	tenant string
	share  dispatch.Share
}

// grantOrder queues jobs behind a held slot (one slot), then lets them run
// one at a time and returns the tenants in the order they were granted.
func grantOrder(t *testing.T, jobs []job) string {
	t.Helper()
	s, err := dispatch.New(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hold, err := s.Acquire(ctx, "holder", dispatch.Share{Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	for i, j := range jobs {
		wg.Go(func() {
			rel, err := s.Acquire(ctx, j.tenant, j.share)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, j.tenant)
			mu.Unlock()
			rel()
		})
		// Queue in a known order: each waiter is in before the next starts.
		waitFor(t, "waiter", func() bool {
			n := 0
			for _, w := range s.Stats().Waiting {
				n += w
			}
			return n == i+1
		})
	}
	hold()
	wg.Wait()
	return strings.Join(order, "")
}

func TestWeightedRoundRobin(t *testing.T) {
	t.Parallel()
	rep := func(tenant string, n, weight int) []job {
		out := make([]job, n)
		for i := range out {
			out[i] = job{tenant, dispatch.Share{Weight: weight}}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		jobs []job
		want string
	}{
		{"equal weights alternate, whatever the backlog", append(rep("a", 6, 1), rep("b", 3, 1)...), "abababaaa"},
		{"weight 3 gets three slots per one", append(rep("a", 8, 3), rep("b", 3, 1)...), "abaaabaaaba"},
		{"three tenants share", append(append(rep("a", 4, 1), rep("b", 2, 1)...), rep("c", 2, 1)...), "abcabcaa"},
		{"a tenant's own work stays in order", rep("a", 3, 1), "aaa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := grantOrder(t, tc.jobs); got != tc.want {
				t.Errorf("granted %s, want %s", got, tc.want)
			}
		})
	}
}

// A tenant idle while another ran banks no more than one round (one slot
// here): when it comes back it gets at most two grants in a row, then
// alternates.
func TestNoBankedCredit(t *testing.T) {
	t.Parallel()
	s, _ := dispatch.New(1)
	ctx := context.Background()
	for range 50 {
		rel, err := s.Acquire(ctx, "a", dispatch.Share{Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
	// b arrives late; a keeps its backlog.
	jobs := []job{}
	for range 4 {
		jobs = append(jobs, job{"a", dispatch.Share{Weight: 1}}, job{"b", dispatch.Share{Weight: 1}})
	}
	if got := grantOrder(t, jobs); strings.Contains(got, "bbb") {
		t.Errorf("late tenant got a burst: %s", got)
	}
}

// A tenant at its cap waits even with slots free; others use them; the
// global limit always holds.
func TestConcurrencyCaps(t *testing.T) {
	t.Parallel()
	s, _ := dispatch.New(4)
	ctx := context.Background()
	var (
		mu             sync.Mutex
		running        = map[string]int{}
		maxA, maxTotal int
		wg             sync.WaitGroup
		gate           = make(chan struct{})
	)
	for i := range 20 {
		id, share := "a", dispatch.Share{Weight: 10, Max: 1}
		if i%2 == 1 {
			id, share = "b", dispatch.Share{Weight: 1}
		}
		wg.Go(func() {
			rel, err := s.Acquire(ctx, id, share)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			running[id]++
			maxA = max(maxA, running["a"])
			maxTotal = max(maxTotal, running["a"]+running["b"])
			mu.Unlock()
			<-gate
			mu.Lock()
			running[id]--
			mu.Unlock()
			rel()
		})
	}
	waitFor(t, "slots full", func() bool { return s.Stats().Busy == 4 })
	if st := s.Stats(); st.Running["a"] != 1 || st.Running["b"] != 3 {
		t.Errorf("running %v: a is capped at 1, b takes the rest", st.Running)
	}
	close(gate)
	wg.Wait()
	if maxA > 1 || maxTotal > 4 {
		t.Errorf("a ran %d at once (cap 1), %d in all (slots 4)", maxA, maxTotal)
	}
	if st := s.Stats(); st.Busy != 0 || len(st.Running)+len(st.Waiting) != 0 {
		t.Errorf("left behind: %+v", st)
	}
}

// A caller that gives up while waiting takes no slot with it.
func TestCancelledWaiterLosesNoSlot(t *testing.T) {
	t.Parallel()
	s, _ := dispatch.New(1)
	hold, err := s.Acquire(context.Background(), "a", dispatch.Share{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := s.Acquire(ctx, "b", dispatch.Share{Weight: 1})
		done <- err
	}()
	waitFor(t, "b waiting", func() bool { return s.Stats().Waiting["b"] == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	hold()
	hold() // idempotent
	rel, err := s.Acquire(context.Background(), "c", dispatch.Share{Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if st := s.Stats(); st.Busy != 0 {
		t.Errorf("busy %d after everything returned", st.Busy)
	}
	if _, err := dispatch.New(0); err == nil {
		t.Error("a scheduler without slots was built")
	}
	if _, err := s.Acquire(ctx, "d", dispatch.Share{}); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire on an ended context: %v", err)
	}
}
