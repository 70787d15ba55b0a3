package breaker_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/worker"
)

// env is one test database with the product's pieces on it: the worker
// role's gateway, a breaker, the real gate (envelopes signed by kit) and a
// releaser sending to a recording sender; the owner role's operator.
type env struct {
	db   *tenantdbtest.Database
	gw   *tenantdb.DB
	kit  *envelopetest.Kit
	gate *binding.Resolver
	b    *breaker.Breaker
	rel  *breaker.Releaser
	sent *sender
	op   *breaker.Operator
	raw  *tenantdb.Operator
}

func newEnv(t *testing.T, cfg breaker.Config) *env {
	t.Helper()
	e := &env{db: tenantdbtest.NewDatabase(t), kit: envelopetest.New(t), sent: &sender{}}
	e.gw = e.db.Open(t)
	e.gate = &binding.Resolver{Verifier: e.kit.Verifier(t)}
	var err error
	if e.b, err = breaker.New(cfg, e.gw, nil, nil); err != nil {
		t.Fatal(err)
	}
	if e.rel, err = breaker.NewReleaser(e.b, e.gw, e.gate, e.sent); err != nil {
		t.Fatal(err)
	}
	if e.raw, err = tenantdb.OpenOperator(context.Background(), e.db.OwnerURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.raw.Close)
	e.op = breaker.NewOperator(e.raw, nil, nil)
	return e
}

// deleteJob is a signed delete job of tenant for doc: a message the gate
// verifies without S3.
func (e *env) deleteJob(t *testing.T, tenant uuid.UUID, doc, msgID string) *worker.Message {
	t.Helper()
	job := `{"type":"delete","document_id":"` + doc + `"}`
	tok, _ := json.Marshal(e.kit.Job(t, tenant, envelope.ActionDelete, envelope.DocumentResource(doc), []byte(job)))
	return &worker.Message{ID: msgID, Body: []byte(`{"envelope":` + string(tok) + `,"job":` + job + `}`),
		Attributes: map[string]string{"producer": "test"}}
}

// verify passes m through the real gate, as the handler does.
func (e *env) verify(t *testing.T, m *worker.Message) tenantdb.Scope {
	t.Helper()
	evs := decode(t, m)
	b, err := e.gate.Resolve(context.Background(), evs, m.ID)
	if err != nil {
		t.Fatalf("gate: %v", err)
	}
	return b.Verified.Scope
}

// auditActions lists the breaker actions in tenant's chain, with actors.
func (e *env) auditActions(t *testing.T, tenant uuid.UUID) []string {
	t.Helper()
	r, err := tenantdb.OpenAuditReader(context.Background(), e.db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	if err := r.ScanAudit(context.Background(), tenant, func(ev audit.Event) error {
		if strings.HasPrefix(ev.Action, "breaker.") {
			out = append(out, ev.Action+" by "+ev.Actor)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) status(t *testing.T, tenant uuid.UUID) breaker.Status {
	t.Helper()
	st, err := e.op.Status(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// expireLease makes every release lease lapse (a releaser killed while
// holding one, after its lease time).
func (e *env) expireLease(t *testing.T) {
	t.Helper()
	c := tenantdbtest.Conn(t, e.db.OwnerURL)
	if _, err := c.Exec(context.Background(), "UPDATE tenant_breakers SET release_until = NULL"); err != nil {
		t.Fatal(err)
	}
}

// sender records what the releaser puts back into the queue.
type sender struct {
	mu   sync.Mutex
	msgs []sent
	fail func() error
}

type sent struct {
	Body  string
	Attrs map[string]string
}

func (s *sender) Send(_ context.Context, body string, attrs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, sent{body, attrs})
	if s.fail != nil {
		return s.fail()
	}
	return nil
}

func (s *sender) all() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sent(nil), s.msgs...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
