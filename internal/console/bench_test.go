package console_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// BenchmarkTenantPage measures the tenant page (documents, the whole chain
// read and verified, the newest 200 events rendered, the DLQ from cache)
// against its baseline in the same run: reading and verifying the same chain
// with audit.VerifyAll through the same reader. Report the ratio of the two
// ns/op. Chain of 2,000 events; TENANTRY_BENCH=full: 20,000.
func BenchmarkTenantPage(b *testing.B) {
	events := 2000
	if os.Getenv("TENANTRY_BENCH") == "full" {
		events = 20000
	}
	e := newEnv(b)
	gw := e.db.Open(b)
	if err := gw.WithTenant(context.Background(), tenantdbtest.Scope(b, e.acme), func(ctx context.Context, tx tenantdb.Tx) error {
		for i := range events {
			if _, err := tx.Audit(ctx, "document.ingested", "doc:bench", "", `{"i":`+string(rune('0'+i%10))+`}`); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	op, _, _ := signInTB(b, e, operator)
	url := e.URL + "/tenants/" + e.acme.String()
	get := func() {
		resp, err := op.Get(url)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%v %v", resp, err)
		}
		_ = resp.Body.Close()
	}
	get() // warm the DLQ cache (refreshed every 15 s: keep runs short)
	b.Run("baseline_verify_chain", func(b *testing.B) {
		for b.Loop() {
			if _, err := audit.VerifyAll(context.Background(), e.reader, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tenant_page", func(b *testing.B) {
		for b.Loop() {
			get()
		}
	})
}

// BenchmarkOverview measures the overview page over 40 tenants (documents
// by status, breaker state, last verification, usage; the DLQ from cache)
// against its baseline in the same run: the overview's own reads through
// the owner-role view (the tenants' documents, usage, and each tenant's
// last verification), without the breaker states and rendering. Report the
// ratio of the two ns/op.
func BenchmarkOverview(b *testing.B) {
	const tenants = 40
	e := newEnv(b)
	gw := e.db.Open(b)
	for range tenants - 2 { // acme and globex exist
		seed(b, gw, uuid.New(), []seedDoc{{"doc", "ready", "", 3}})
	}
	op, _, _ := signInTB(b, e, operator)
	get := func() {
		resp, err := op.Get(e.URL + "/")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%v %v", resp, err)
		}
		_ = resp.Body.Close()
	}
	get() // warm the DLQ cache (refreshed every 15 s: keep runs short)
	ctx := context.Background()
	b.Run("baseline_reads", func(b *testing.B) {
		for b.Loop() {
			docs, err := e.reader.TenantDocuments(ctx)
			if err != nil || len(docs) != tenants {
				b.Fatalf("%d tenants, %v", len(docs), err)
			}
			if _, err := e.reader.ProviderUsage(ctx, time.Now().Add(-time.Hour)); err != nil {
				b.Fatal(err)
			}
			for _, d := range docs {
				if _, _, err := e.reader.LastAuditEvent(ctx, d.TenantID, console.ActionVerify, tenantdb.ActionChainVerified); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("overview", func(b *testing.B) {
		for b.Loop() {
			get()
		}
	})
}
