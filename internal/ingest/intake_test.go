package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
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
	first, now := in.Enter(busy.String(), nil) // one of busy's messages is being verified
	if !now {
		t.Fatal("the first message was held")
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
	err := <-done[forged]
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

// Attacker side of a held backlog: messages forged under a stalled tenant's
// key prefix (signed for the attacker's own tenant) are held behind it, then
// pass when it has not moved for MaxWait and take the durable path, where
// the gate refuses them before anything is decided for the victim: nothing
// deferred or parked under either tenant, no outcome counted against the
// victim's breaker, no slot asked under the victim's share.
func TestForgedMessagesHeldUnderAVictimsPrefixSpendNothingOfIt(t *testing.T) {
	t.Parallel()
	e := newSidecarEnv(t)
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10, MaxWait: 50 * time.Millisecond})
	b, err := breaker.New(breaker.Config{}, e.h.DB, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	slots, err := dispatch.New(1)
	if err != nil {
		t.Fatal(err)
	}
	e.h.Intake, e.h.Breaker = in, b
	e.h.Dispatch = &tenantlimits.Dispatcher{Scheduler: slots, Limits: tenantlimits.NewCache(e.h.DB, time.Minute), DeferAfter: 1}
	victim := uuid.New()
	stuck, now := in.Enter(victim.String(), nil) // the victim's work hangs: its line does not move
	if !now {
		t.Fatal("the first message was held")
	}
	defer stuck.Done()
	const forged = 3
	errs := make(chan error, forged)
	for i := range forged {
		key := fmt.Sprintf("%s/forged-%d/a.txt", victim, i)
		e.upload(key, e.tenant, nil) // the attacker's own envelope, under the victim's prefix
		body := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-02T03:04:05.678Z",
		"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":11,"sequencer":"0001"}}}]}`,
			e.bucket, e.bucket, key)
		m := &worker.Message{ID: fmt.Sprintf("forged-%d", i), Body: []byte(body)}
		go func() { errs <- deliver(context.Background(), e.h, m) }()
	}
	for range forged {
		if err := <-errs; worker.ReasonOf(err) != "binding_mismatch" || !worker.IsPermanent(err) {
			t.Fatalf("forged message: %v, want a permanent binding_mismatch", err)
		}
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM parked_messages`:                            0,
		`SELECT count(*) FROM tenant_breakers`:                            0,
		`SELECT count(*) FROM documents WHERE document_id LIKE 'forged%'`: 0,
	} {
		if n := e.n(q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	if st := slots.Stats(); len(st.Running) != 0 || len(st.Waiting) != 0 || st.Busy != 0 {
		t.Errorf("a forged message asked for a slot: %+v", st)
	}
	if in.Held() != 0 {
		t.Errorf("%d still held", in.Held())
	}
}

// deliver handles m as the runner does: its Admitter first (held until it
// starts m, or gives it back: errGivenBack), then the handler with m's
// admission, given back when the handler returns.
func deliver(ctx context.Context, h *ingest.Handler, m *worker.Message) error {
	adm := h.Admitter()
	if adm == nil {
		return h.Handle(ctx, m)
	}
	started := make(chan worker.Admission, 1)
	a, now := adm.Admit(m, func(a worker.Admission) { started <- a })
	if !now {
		if a = <-started; a == nil {
			return errGivenBack
		}
	}
	if a != nil {
		defer a.Done()
	}
	return h.Handle(worker.WithAdmission(ctx, a), m)
}

var errGivenBack = errors.New("given back")

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

// An S3 notification of several records, of two tenants: the record of the
// tenant whose breaker is open is parked alone (under that tenant, as a
// notification of that one record), the other tenant's record runs; a
// redelivery parks it once.
func TestMultiRecordNotificationPassesEachTenantsBreaker(t *testing.T) {
	t.Parallel()
	e := newSidecarEnv(t)
	b, err := breaker.New(breaker.Config{}, e.h.DB, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.h.Breaker = b
	ctx := context.Background()
	paused, running := uuid.New(), uuid.New()
	if err := b.Pause(ctx, tenantdbtest.Scope(t, paused).WithActor("operator:test"), "held"); err != nil {
		t.Fatal(err)
	}
	pKey, rKey := paused.String()+"/p/a.txt", running.String()+"/r/a.txt"
	e.upload(pKey, paused, nil)
	e.upload(rKey, running, nil)
	rec := func(key string) string {
		return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-02T03:04:05.678Z",
		"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":11,"sequencer":"0001"}}}`,
			e.bucket, e.bucket, key)
	}
	m := &worker.Message{ID: "multi", Body: []byte(`{"Records":[` + rec(pKey) + `,` + rec(rKey) + `]}`)}
	for range 2 { // the second: a redelivery
		if err := e.h.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1`, running); n != 1 {
		t.Fatalf("the closed tenant's record: %d documents, want 1", n)
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1`, paused); n != 0 {
		t.Fatalf("the paused tenant's record ran: %d documents", n)
	}
	var id, body string
	if err := e.admin.QueryRow(ctx, `SELECT message_id, body FROM parked_messages WHERE tenant_id = $1`, paused).Scan(&id, &body); err != nil {
		t.Fatalf("the paused tenant's record is not parked (exactly once): %v", err)
	}
	evs, err := event.Decode([]byte(body), nil)
	if id != "multi#0" || err != nil || len(evs) != 1 || evs[0].Object.Key != pKey {
		t.Fatalf("parked %q: %d events %v", id, len(evs), err)
	}
	if n := e.n(`SELECT count(*) FROM parked_messages WHERE tenant_id <> $1`, paused); n != 0 {
		t.Fatalf("%d rows parked for another tenant", n)
	}
}

// The handler's Admitter asks the intake only about a message of one object
// event under a canonical key (its tenant is the hint): a malformed body, a
// key that is not canonical or a message of several records starts at once,
// whatever the intake holds; without an intake there is no Admitter.
func TestAdmitterHintsOnlyCanonicalObjectKeys(t *testing.T) {
	t.Parallel()
	if a := (&ingest.Handler{}).Admitter(); a != nil {
		t.Fatalf("an Admitter without an intake: %v", a)
	}
	busy := uuid.New()
	rec := func(key string) string {
		return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-02T03:04:05.678Z",
		"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"bucket","arn":"arn:aws:s3:::bucket"},"object":{"key":%q,"size":11,"sequencer":"0001"}}}`, key)
	}
	own := busy.String() + "/doc/a.txt"
	tests := []struct {
		name string
		body string
		held bool
	}{
		{"busy tenant's object", `{"Records":[` + rec(own) + `]}`, true},
		{"malformed body", `{"Records":[`, false},
		{"key not canonical", `{"Records":[` + rec(busy.String()+"/../a.txt") + `]}`, false},
		{"several records", `{"Records":[` + rec(own) + `,` + rec(own) + `]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10})
			if _, now := in.Enter(busy.String(), nil); !now {
				t.Fatal("the first message was held")
			}
			adm := (&ingest.Handler{Deps: ingest.Deps{Intake: in}}).Admitter()
			_, now := adm.Admit(&worker.Message{ID: "m", Body: []byte(tt.body)}, func(worker.Admission) {})
			if now == tt.held || in.Held() != map[bool]int{true: 1}[tt.held] {
				t.Fatalf("started now %v, held %d; want held %v", now, in.Held(), tt.held)
			}
		})
	}
}

// A tenant whose breaker is open has its held messages parked one at a
// time, ParkEvery apart (the handler ends a parked message's intake ticket
// as parked), while another tenant's message passes at once.
func TestParkingTenantIsPacedInTheIntake(t *testing.T) {
	t.Parallel()
	e := newSidecarEnv(t)
	const every = 300 * time.Millisecond
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10, ParkEvery: every})
	b, err := breaker.New(breaker.Config{}, e.h.DB, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.h.Intake, e.h.Breaker = in, b
	ctx := context.Background()
	paused, running := uuid.New(), uuid.New()
	if err := b.Pause(ctx, tenantdbtest.Scope(t, paused).WithActor("operator:test"), "held"); err != nil {
		t.Fatal(err)
	}
	msg := func(tenant uuid.UUID, doc string) *worker.Message {
		key := fmt.Sprintf("%s/%s/a.txt", tenant, doc)
		e.upload(key, tenant, nil)
		body := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-02T03:04:05.678Z",
		"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":11,"sequencer":"0001"}}}]}`,
			e.bucket, e.bucket, key)
		return &worker.Message{ID: doc, Body: []byte(body)}
	}
	first, second, other := msg(paused, "p1"), msg(paused, "p2"), msg(running, "r1")
	began := time.Now()
	if err := deliver(ctx, e.h, first); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- deliver(ctx, e.h, second) }()
	waitHeldN(t, in, 1) // held: the parked message's place is still taken
	if err := deliver(ctx, e.h, other); err != nil {
		t.Fatal(err)
	}
	if in.Held() != 1 {
		t.Fatalf("held %d after another tenant's message ran, want the paused tenant's one still held", in.Held())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if gap := time.Since(began); gap < every {
		t.Fatalf("two messages of a paused tenant parked within %v, want them at least %v apart", gap, every)
	}
	if n := e.n(`SELECT count(*) FROM parked_messages WHERE tenant_id = $1`, paused); n != 2 {
		t.Fatalf("%d of the paused tenant's messages parked, want 2", n)
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1`, running); n != 1 {
		t.Fatalf("the running tenant: %d documents, want 1", n)
	}
}
