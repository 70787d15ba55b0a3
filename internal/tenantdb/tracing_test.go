package tenantdb_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// spans records the transaction spans of the package's tests.
var spans = tracetest.NewInMemoryExporter()

func TestMain(m *testing.M) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	os.Exit(m.Run())
}

// TestTransactionSpans: every tenant transaction is a span under the
// caller's, with the tenant id as an attribute and never the SQL text or its
// parameters (they carry tenant data); a rolled-back one is marked failed.
func TestTransactionSpans(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t).Open(t)
	tenant := uuid.New()
	const secret = "zebracorn-doc"
	ctx, parent := otel.Tracer("test").Start(context.Background(), "message")
	if err := db.WithTenant(ctx, tenantdbtest.Scope(t, tenant).WithJob("job-7"), func(ctx context.Context, tx tenantdb.Tx) error {
		return insertDoc(ctx, tx, tenant, secret)
	}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	if err := db.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(context.Context, tenantdb.Tx) error { return refused }); !errors.Is(err, refused) {
		t.Fatal(err)
	}
	parent.End()
	var txs []sdktrace.ReadOnlySpan
	for _, s := range spans.GetSpans().Snapshots() {
		if s.SpanContext().TraceID() == parent.SpanContext().TraceID() && s.Name() == "tenantdb.tx" {
			txs = append(txs, s)
		}
	}
	if len(txs) != 2 {
		t.Fatalf("%d transaction spans, want 2", len(txs))
	}
	for i, s := range txs {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("transaction %d is not under the caller's span", i)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
			for _, leak := range []string{secret, "INSERT", "set_config", "s3://"} {
				if strings.Contains(a.Value.String(), leak) {
					t.Errorf("attribute %s carries %q", a.Key, leak)
				}
			}
		}
		if attrs["tenant_id"] != tenant.String() {
			t.Errorf("tenant_id = %q", attrs["tenant_id"])
		}
		if len(s.Events()) > 0 {
			t.Errorf("transaction span has events: %v", s.Events())
		}
	}
	if txs[0].Status().Code == codes.Error || txs[1].Status().Code != codes.Error {
		t.Errorf("statuses %v, %v", txs[0].Status(), txs[1].Status())
	}
}

// TestPoolCollector: the pool's connections and waits are exported.
func TestPoolCollector(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t).Open(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(db.Collector())
	if err := db.WithTenant(context.Background(), tenantdbtest.Scope(t, uuid.New()), func(ctx context.Context, tx tenantdb.Tx) error {
		got := gather(t, reg)
		if got["tenantry_db_pool_acquired_conns"] < 1 {
			t.Errorf("inside a transaction: acquired = %v", got["tenantry_db_pool_acquired_conns"])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	if got["tenantry_db_pool_acquires_total"] < 1 || got["tenantry_db_pool_idle_conns"] < 1 || got["tenantry_db_pool_max_conns"] < 1 {
		t.Fatalf("pool metrics %v", got)
	}
	for _, name := range []string{"tenantry_db_pool_acquire_waits_total", "tenantry_db_pool_acquire_seconds_total", "tenantry_db_pool_acquires_canceled_total", "tenantry_db_pool_total_conns", "tenantry_db_pool_constructing_conns"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		m := f.GetMetric()[0]
		if m.GetGauge() != nil {
			out[f.GetName()] = m.GetGauge().GetValue()
		} else {
			out[f.GetName()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// The owner role's tenant transactions (support grants and revocations, a
// recorded chain verification) run through the gateway's one scoped
// transaction: each is one tenantdb.tx span with the tenant id, and a nil
// tenant is refused as ErrNoScope before anything runs.
func TestOwnerTransactionsRunThroughTheGateway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, admin, _ := supportSetup(ctx, t)
	auditor, err := tenantdb.OpenAuditReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(auditor.Close)
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, tenant uuid.UUID) error
	}{
		{"support grant and revoke", func(ctx context.Context, tenant uuid.UUID) error {
			g, err := admin.Grant(ctx, tenant, "ana", "ticket 1", time.Hour, "lead")
			if err != nil {
				return err
			}
			_, err = admin.Revoke(ctx, tenant, g.ID, "lead")
			return err
		}},
		{"recorded verification", func(ctx context.Context, tenant uuid.UUID) error {
			return auditor.RecordVerification(ctx, tenant, "cli:ana", true, 0, "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.run(ctx, uuid.Nil); !errors.Is(err, tenantdb.ErrNoScope) {
				t.Fatalf("nil tenant: %v, want ErrNoScope", err)
			}
			tenant := uuid.New()
			tctx, parent := otel.Tracer("test").Start(ctx, "operator")
			err := tc.run(tctx, tenant)
			parent.End()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			for _, s := range spans.GetSpans().Snapshots() {
				if s.SpanContext().TraceID() != parent.SpanContext().TraceID() || s.Name() != "tenantdb.tx" {
					continue
				}
				n++
				for _, a := range s.Attributes() {
					if a.Key == "tenant_id" && a.Value.AsString() != tenant.String() {
						t.Errorf("span tenant_id = %q", a.Value.AsString())
					}
				}
			}
			if n == 0 {
				t.Fatal("no tenant transaction span: the owner's transaction bypassed the gateway")
			}
		})
	}
}
