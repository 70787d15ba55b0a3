package breaker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// From the attacker's side: code running under tenant A's verified scope
// (a bug, or a hostile tenant's job reaching SQL) tries to read, pause,
// resume, drain or inject into tenant B's breaker and parked work. The
// database refuses every attempt; B's state is untouched afterwards.
func TestBreakerFromTheAttackersSide(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ReleaseRate: 1000})
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	if err := e.op.Pause(ctx, b, "ops", "b paused"); err != nil {
		t.Fatal(err)
	}
	mb := e.deleteJob(t, b, "secret-doc", "mb")
	if err := e.b.Park(ctx, e.verify(t, mb), mb, "b paused"); err != nil {
		t.Fatal(err)
	}
	asA := tenantdbtest.Scope(t, a)

	for _, tc := range []struct {
		name, sql string
		args      []any
		refused   bool // an error (42501), else 0 rows
	}{
		{"read B's parked messages", "SELECT count(*) FROM parked_messages WHERE tenant_id = $1", []any{b}, false},
		{"read B's breaker", "SELECT count(*) FROM tenant_breakers WHERE tenant_id = $1", []any{b}, false},
		{"resume B", "UPDATE tenant_breakers SET state = 'closed', manual = false WHERE tenant_id = $1", []any{b}, false},
		{"drain B's parked messages", "DELETE FROM parked_messages WHERE tenant_id = $1", []any{b}, false},
		{"pause C", "INSERT INTO tenant_breakers (tenant_id, state, manual) VALUES ($1, 'open', true)", []any{c}, true},
		{"park work as C", "INSERT INTO parked_messages (tenant_id, message_id, body) VALUES ($1, 'x', '{}')", []any{c}, true},
		{"move A's breaker to B", "UPDATE tenant_breakers SET tenant_id = $1", []any{b}, false},
		{"raise own weight", "INSERT INTO tenant_limits (tenant_id, weight) VALUES (tenantry_current_tenant(), 1000)", nil, true},
		{"lift B's concurrency cap", "UPDATE tenant_limits SET max_concurrency = 0 WHERE tenant_id = $1", []any{b}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.gw.WithTenant(ctx, asA, func(ctx context.Context, tx tenantdb.Tx) error {
				if strings.HasPrefix(tc.sql, "SELECT") {
					var n int
					if err := tx.QueryRow(ctx, tc.sql, tc.args...).Scan(&n); err != nil {
						return err
					}
					if n != 0 {
						t.Errorf("saw %d of B's rows", n)
					}
					return nil
				}
				n, err := tx.Exec(ctx, tc.sql, tc.args...)
				if err == nil && n != 0 {
					t.Errorf("changed %d rows", n)
				}
				return err
			})
			if tc.refused && (err == nil || !strings.Contains(err.Error(), "42501")) {
				t.Errorf("not refused by the database: %v", err)
			}
			if !tc.refused && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}

	t.Run("no scope, no rows", func(t *testing.T) {
		w := tenantdbtest.Conn(t, e.db.WorkerURL)
		var n int
		if err := w.QueryRow(ctx, "SELECT count(*) FROM parked_messages").Scan(&n); err == nil {
			t.Errorf("read parked messages without a tenant scope (%d rows)", n)
		}
	})
	t.Run("the worker role cannot act as an operator", func(t *testing.T) {
		if op, err := tenantdb.OpenOperator(ctx, e.db.WorkerURL); !errors.Is(err, tenantdb.ErrNotOwner) {
			if op != nil {
				op.Close()
			}
			t.Errorf("worker role opened an operator connection: %v", err)
		}
	})
	t.Run("the scoped API shows only its tenant", func(t *testing.T) {
		st, err := e.b.Status(ctx, asA)
		if err != nil || st.State != breaker.Closed || st.Parked != 0 {
			t.Errorf("A sees %+v (%v)", st, err)
		}
	})
	if st := e.status(t, b); st.State != breaker.Open || !st.Manual || st.Parked != 1 {
		t.Errorf("B's breaker after the attacks: %+v", st)
	}
}

// A parked row is never an authority. A row filed under A that carries B's
// (validly signed) message, or a message whose envelope no trusted key
// signed, is refused at release: not sent, kept and marked for operators,
// with a security event for the mismatch; A's own parked work still goes.
func TestParkedRowsCannotRunAsAnotherTenant(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ReleaseRate: 1000})
	a, b := uuid.New(), uuid.New()
	stranger := envelopetest.New(t, envelopetest.WithSeed("not-a-trusted-key"))
	forgedJob := `{"type":"delete","document_id":"d"}`
	tok, _ := json.Marshal(stranger.Job(t, a, envelope.ActionDelete, envelope.DocumentResource("d"), []byte(forgedJob)))

	inject := func(id, body string) {
		t.Helper()
		err := e.gw.WithTenant(ctx, tenantdbtest.Scope(t, a), func(ctx context.Context, tx tenantdb.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO parked_messages (tenant_id, message_id, body) VALUES (tenantry_current_tenant(), $1, $2)`, id, body)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	inject("b-signed", string(e.deleteJob(t, b, "doc-of-b", "x").Body))
	inject("forged", `{"envelope":`+string(tok)+`,"job":`+forgedJob+`}`)
	inject("unreadable", `{"job":"not a job"}`)
	own := e.deleteJob(t, a, "doc-of-a", "own")
	inject("own", string(own.Body))
	if err := e.op.Resume(ctx, a, "ops", "release"); err != nil { // A's breaker closed: due for release
		t.Fatal(err)
	}
	n, err := e.rel.ReleaseOnce(ctx)
	if err != nil || n != 4 {
		t.Fatalf("release pass handled %d (%v), want 4 (3 refused, 1 released)", n, err)
	}
	sent := e.sent.all()
	if len(sent) != 1 || sent[0].Body != string(own.Body) {
		t.Fatalf("sent %d messages; only A's own may go", len(sent))
	}
	if st := e.status(t, a); st.Parked != 0 || st.Refused != 3 {
		t.Errorf("A's status: %+v, want 0 parked, 3 refused", st)
	}
	if st := e.status(t, b); st.Parked != 0 || st.State != breaker.Closed {
		t.Errorf("B's status: %+v", st)
	}
	admin := tenantdbtest.Conn(t, e.db.AdminURL)
	var events int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM security_events WHERE reason = $1 AND claimed_tenant = $2",
		breaker.ReasonParkedTenantMismatch, a.String()).Scan(&events); err != nil || events != 1 {
		t.Errorf("%d security events (%v), want 1", events, err)
	}
	var reasons []string
	rows, err := admin.Query(ctx, "SELECT refused FROM parked_messages WHERE tenant_id = $1 ORDER BY seq", a)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		reasons = append(reasons, r)
	}
	rows.Close()
	if strings.Join(reasons, ",") != "parked_tenant_mismatch,unknown_key,parked_unreadable" {
		t.Errorf("refusal reasons %q", reasons)
	}
	// The worker role's release functions change nothing but a reason code.
	if _, err := e.gw.ParkedRefuse(ctx, a, 1, "Robert'); DROP TABLE x; --"); err == nil {
		t.Error("a free-text refusal reason was accepted")
	}
}
