package dispatch

import (
	"context"
	"fmt"
	"testing"
)

// The passes of idle tenants are remembered only while they matter (above
// the tenant's floor), and never more than maxIdle of them.
func TestIdleTenantsBounded(t *testing.T) {
	t.Parallel()
	s, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	once := func(id string) {
		rel, err := s.Acquire(ctx, id, Share{Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
	// a runs alone a while: the virtual time moves on.
	for range 10 {
		once("a")
	}
	// Tenants seen once each, served from their credit: each is remembered
	// (its pass is above its floor), but never more than maxIdle.
	for i := range 3 * maxIdle {
		once(fmt.Sprint("t", i))
		if n := len(s.idle); n > maxIdle {
			t.Fatalf("%d idle tenants remembered, want at most %d", n, maxIdle)
		}
	}
	if _, ok := s.idle[fmt.Sprint("t", 3*maxIdle-1)]; !ok {
		t.Fatal("the last idle tenant was not remembered")
	}
}

// Idle tenants a round or more behind the virtual time are swept: their
// floor gives them no more than their pass would.
func TestIdleTenantsSwept(t *testing.T) {
	t.Parallel()
	s, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	once := func(id string) {
		rel, err := s.Acquire(context.Background(), id, Share{Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
	for range 10 {
		once("a")
	}
	for i := range minSweep - 2 {
		once(fmt.Sprint("t", i))
	}
	if n := len(s.idle); n != minSweep-1 {
		t.Fatalf("%d idle tenants remembered, want %d", n, minSweep-1)
	}
	for range 3 { // a is served again (its pass is remembered): the time moves on
		once("a")
	}
	once("u") // the sweep
	if _, ok := s.idle["t0"]; ok || len(s.idle) != 2 {
		t.Errorf("remembered %d idle tenants (t0 among them: %v), want a and u only", len(s.idle), ok)
	}
}
