package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// FailClaimed moves only the row the dead-lettered job still holds from
// processing to failed; it never undoes a ready document, another job's
// claim (a newer upload in progress) or another tenant's row, and a failed
// document can still be ingested to ready.
func TestFailClaimedOnlyEndsThisJobsClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, p, f := setup(t)
	abandoned := pgstore.Abandoned{Reason: "timeout", DeadLetterReason: "max_receives", Attempts: 4}
	claim := func(t *testing.T, scope tenantdb.Scope, d pipeline.Document) {
		t.Helper()
		d.Version = "sha256:v1"
		if c, err := st.For(scope).Claim(ctx, d); err != nil || c != pipeline.ClaimProceed {
			t.Fatalf("claim: %v, %v", c, err)
		}
	}
	tests := []struct {
		name        string
		prepare     func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope // returns the finalizing scope
		wantChanged bool
		wantStatus  string // "" = no row
	}{
		{"claimed by this job", func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope {
			claim(t, job, doc(tenant, "d", ""))
			return job
		}, true, "failed"},
		{"claimed by another job", func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope {
			claim(t, tenantdbtest.Scope(t, tenant), doc(tenant, "d", ""))
			return job
		}, false, "processing"},
		{"claimed by this job, then taken over by another", func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope {
			claim(t, job, doc(tenant, "d", ""))
			claim(t, tenantdbtest.Scope(t, tenant), doc(tenant, "d", ""))
			return job
		}, false, "processing"},
		{"ready", func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope {
			f["d-"+tenant.String()] = "alpha"
			d := doc(tenant, "d-"+tenant.String(), "")
			if _, err := p.Ingest(ctx, st.For(job), d); err != nil {
				t.Fatal(err)
			}
			return job
		}, false, "ready"},
		{"no row", func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope { return job }, false, ""},
		{"another tenant's scope with the same job id", func(t *testing.T, tenant uuid.UUID, job tenantdb.Scope) tenantdb.Scope {
			claim(t, job, doc(tenant, "d", ""))
			other, err := tenantdb.MintVerified(uuid.New(), "test-actor", job.JobID())
			if err != nil {
				t.Fatal(err)
			}
			return other
		}, false, "processing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := uuid.New()
			job := tenantdbtest.Scope(t, tenant)
			fin := tt.prepare(t, tenant, job)
			id := "d"
			if tt.name == "ready" {
				id = "d-" + tenant.String()
			}
			changed, err := st.For(fin).FailClaimed(ctx, id, abandoned)
			if err != nil || changed != tt.wantChanged {
				t.Fatalf("FailClaimed: changed %v, %v; want %v", changed, err, tt.wantChanged)
			}
			_, status, err := st.For(job).Document(ctx, id)
			if tt.wantStatus == "" {
				if !errors.Is(err, pgstore.ErrNotFound) {
					t.Fatalf("a row appeared: %q, %v", status, err)
				}
				return
			}
			if err != nil || status != tt.wantStatus {
				t.Fatalf("status %q, %v; want %q", status, err, tt.wantStatus)
			}
			if changed {
				again, err := st.For(fin).FailClaimed(ctx, id, abandoned)
				if err != nil || again {
					t.Fatalf("second FailClaimed: changed %v, %v; want a no-op", again, err)
				}
				// Failed is terminal for now, not forever: a later delivery
				// (or replay) of the same job makes it ready.
				f[id] = "alpha beta"
				if _, err := p.Ingest(ctx, st.For(job), doc(tenant, id, "")); err != nil {
					t.Fatal(err)
				}
				if _, status, err := st.For(job).Document(ctx, id); err != nil || status != "ready" {
					t.Fatalf("after a later successful delivery: %q, %v; want ready", status, err)
				}
			}
		})
	}
}
