package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/dispatch"
)

// acquireAsync starts an Acquire and returns a channel that yields its
// release once granted.
func acquireAsync(t *testing.T, s *dispatch.Scheduler, tenant string) <-chan func() {
	t.Helper()
	out := make(chan func(), 1)
	go func() {
		rel, err := s.Acquire(context.Background(), tenant, dispatch.Share{Weight: 1})
		if err != nil {
			t.Error(err)
			close(out)
			return
		}
		out <- rel
	}()
	return out
}

// granted reports whether ch has been granted by the time the scheduler
// shows no waiter of tenant (the grant is decided under the scheduler's
// lock, so a waiter still listed is not granted).
func granted(t *testing.T, s *dispatch.Scheduler, tenant string, ch <-chan func(), want bool) func() {
	t.Helper()
	if want {
		select {
		case rel := <-ch:
			return rel
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not granted", tenant)
		}
	}
	waitFor(t, tenant+" waiting", func() bool { return s.Waiting(tenant) == 1 })
	select {
	case <-ch:
		t.Fatalf("%s granted, want it waiting", tenant)
	default:
	}
	return nil
}

// wantLoad checks the runs in progress (the reserve's included) and those
// on the reserve.
func wantLoad(t *testing.T, s *dispatch.Scheduler, busy, reserved int) {
	t.Helper()
	if st := s.Stats(); st.Busy != busy || st.Reserved != reserved {
		t.Fatalf("busy %d, reserved %d; want %d and %d", st.Busy, st.Reserved, busy, reserved)
	}
}

func TestReserve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newSched := func(t *testing.T, slots, reserve int) *dispatch.Scheduler {
		t.Helper()
		s, err := dispatch.NewWith(dispatch.Config{Slots: slots, Credit: dispatch.DefaultCredit, Reserve: reserve})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fill := func(t *testing.T, s *dispatch.Scheduler, tenant string, n int) []func() {
		t.Helper()
		rels := make([]func(), n)
		for i := range rels {
			rel, err := s.Acquire(ctx, tenant, dispatch.Share{Weight: 1})
			if err != nil {
				t.Fatal(err)
			}
			rels[i] = rel
		}
		return rels
	}

	t.Run("a tenant arriving next to a backlog that holds every slot starts at once", func(t *testing.T) {
		t.Parallel()
		s := newSched(t, 2, 1)
		fill(t, s, "a", 2)
		aNext := acquireAsync(t, s, "a")
		granted(t, s, "a", aNext, false) // a alone never runs more than the slots
		c := acquireAsync(t, s, "c")
		granted(t, s, "c", c, true)
		wantLoad(t, s, 3, 1)
	})
	t.Run("without a reserve the newcomer waits", func(t *testing.T) {
		t.Parallel()
		s := newSched(t, 2, 0)
		fill(t, s, "a", 2)
		granted(t, s, "c", acquireAsync(t, s, "c"), false)
	})
	t.Run("only tenants running fewer than the reserve use it", func(t *testing.T) {
		t.Parallel()
		s := newSched(t, 2, 2)
		fill(t, s, "a", 1)
		c1 := granted(t, s, "c", acquireAsync(t, s, "c"), true) // the last slot
		granted(t, s, "c", acquireAsync(t, s, "c"), true)       // the reserve: c ran 1
		c3 := acquireAsync(t, s, "c")
		granted(t, s, "c", c3, false)                     // c runs 2: the reserve's free place is not for it
		granted(t, s, "a", acquireAsync(t, s, "a"), true) // a runs 1: it is for a
		wantLoad(t, s, 4, 2)
		c1() // a slot: c's waiter gets it
		granted(t, s, "c", c3, true)
	})
	t.Run("a reserve place given back is not a slot", func(t *testing.T) {
		t.Parallel()
		s := newSched(t, 2, 1)
		as := fill(t, s, "a", 2)
		c := granted(t, s, "c", acquireAsync(t, s, "c"), true)
		aNext := acquireAsync(t, s, "a")
		granted(t, s, "a", aNext, false)
		c() // the reserve's place: a still runs as many as the slots
		granted(t, s, "a", aNext, false)
		as[0]() // a slot: a's waiter gets it
		granted(t, s, "a", aNext, true)
		wantLoad(t, s, 2, 0)
	})
	t.Run("the reserve is used only when every slot is busy", func(t *testing.T) {
		t.Parallel()
		s := newSched(t, 2, 1)
		fill(t, s, "a", 1)
		granted(t, s, "c", acquireAsync(t, s, "c"), true)
		wantLoad(t, s, 2, 0) // a slot was free: not the reserve
	})
	t.Run("a tenant's own cap holds on the reserve", func(t *testing.T) {
		t.Parallel()
		s := newSched(t, 1, 1)
		fill(t, s, "a", 1)
		ch := make(chan func(), 1)
		go func() {
			rel, err := s.Acquire(ctx, "c", dispatch.Share{Weight: 1, Max: 1})
			if err == nil {
				ch <- rel
			}
		}()
		rel := granted(t, s, "c", ch, true)
		ch2 := make(chan func(), 1)
		go func() {
			rel, err := s.Acquire(ctx, "d", dispatch.Share{Weight: 1, Max: 1})
			if err == nil {
				ch2 <- rel
			}
		}()
		granted(t, s, "d", ch2, false) // the reserve (1) is taken by c
		rel()
		granted(t, s, "d", ch2, true)
	})
}

func TestReserveConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  dispatch.Config
		ok   bool
	}{
		{"none", dispatch.Config{Slots: 4}, true},
		{"as many as the slots", dispatch.Config{Slots: 4, Reserve: 4}, true},
		{"more than the slots", dispatch.Config{Slots: 4, Reserve: 5}, false},
		{"negative", dispatch.Config{Slots: 4, Reserve: -1}, false},
		{"negative credit", dispatch.Config{Slots: 4, Credit: -1}, false},
		{"no slots", dispatch.Config{Reserve: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := dispatch.NewWith(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewWith(%+v): err %v, want ok %v", tc.cfg, err, tc.ok)
			}
			if err == nil && s.Reserve() != tc.cfg.Reserve {
				t.Fatalf("Reserve() = %d, want %d", s.Reserve(), tc.cfg.Reserve)
			}
		})
	}
}
