package ingest_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/worker"
)

// The intake holds a message before the gate while the tenant its key names
// already has a message past it: no S3 request is made for it until then.
// The key's tenant is only a hint: a message forged under a busy tenant's
// prefix waits like that tenant's own, then is refused by the gate as
// usual (nothing written for either tenant); another tenant's message is
// never held behind it.
func TestIntakeHoldsBeforeTheGate(t *testing.T) {
	t.Parallel()
	e := newSidecarEnv(t)
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10})
	e.h.Intake = in
	busy, other := uuid.New(), uuid.New()
	ctx := context.Background()
	first, err := in.Enter(ctx, busy.String()) // one of busy's messages is being verified
	if err != nil {
		t.Fatal(err)
	}

	own := busy.String() + "/own/a.txt"
	forged := busy.String() + "/forged/a.txt"
	e.upload(own, busy, nil)
	e.upload(forged, e.tenant, nil) // signed by the attacker's tenant, under busy's prefix
	done := map[string]chan error{}
	for i, key := range []string{own, forged} {
		done[key] = make(chan error, 1)
		go func() { done[key] <- e.event("ObjectCreated:Put", key, "0001") }()
		waitHeldN(t, in, i+1)
	}
	for _, key := range []string{own, forged} {
		if n := e.s3.count("head", key); n != 0 {
			t.Fatalf("%s: %d HEADs while held, want 0", key, n)
		}
	}

	// Another tenant is not behind busy's backlog.
	otherKey := other.String() + "/doc/a.txt"
	e.upload(otherKey, other, nil)
	e.must(e.event("ObjectCreated:Put", otherKey, "0001"))

	first.Done() // busy has room: its held messages pass, oldest first
	if err := <-done[own]; err != nil {
		t.Fatalf("own message: %v", err)
	}
	err = <-done[forged]
	if worker.ReasonOf(err) != "binding_mismatch" {
		t.Fatalf("forged message: %v, want binding_mismatch", err)
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE document_id = 'forged'`); n != 0 {
		t.Fatalf("the forged message wrote %d documents", n)
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'own'`, busy); n != 1 {
		t.Fatalf("busy's own message: %d documents", n)
	}
	if in.Held() != 0 {
		t.Fatalf("%d still held", in.Held())
	}
}

func waitHeldN(t *testing.T, in *tenantlimits.Intake, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for in.Held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("held %d, want %d", in.Held(), n)
		}
		runtime.Gosched()
	}
}
