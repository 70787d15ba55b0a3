package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/migrations"
)

func TestRenderRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts migrations.Options
	}{
		{"negative dims", migrations.Options{Dims: -1}},
		{"huge dims", migrations.Options{Dims: 20000}},
		{"role with quote", migrations.Options{WorkerRole: `x"; DROP TABLE chunks; --`}},
		{"role upper case", migrations.Options{WorkerRole: "Worker"}},
		{"support role is the worker", migrations.Options{SupportRole: "tenantry_worker"}},
		{"support role with quote", migrations.Options{SupportRole: `s"; DROP ROLE x; --`}},
		{"auditor role is the support role", migrations.Options{AuditorRole: "tenantry_support"}},
		{"auditor role upper case", migrations.Options{AuditorRole: "Auditor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := migrations.Render(tc.opts); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	ms, err := migrations.Render(migrations.Options{Dims: 384})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ms[0].SQL, "vector(384)") || strings.Contains(ms[0].SQL, "{{") {
		t.Fatal("template not rendered")
	}
}

func TestUpIsIdempotentAndChecksDims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t) // already migrated with tenantdbtest.Dims
	if err := migrations.Up(ctx, db.OwnerURL, migrations.Options{Dims: tenantdbtest.Dims}); err != nil {
		t.Fatalf("second run: %v", err)
	}
	err := migrations.Up(ctx, db.OwnerURL, migrations.Options{Dims: 8})
	if !errors.Is(err, migrations.ErrDimensionMismatch) {
		t.Fatalf("got %v, want ErrDimensionMismatch", err)
	}
	if err := migrations.Up(ctx, db.WorkerURL, migrations.Options{}); err == nil {
		t.Fatal("the worker role could run migrations")
	}
}

// The catalog after migration: every function of the schema pins search_path
// with pg_temp last and is not executable by PUBLIC; the worker role can
// create nothing (no TEMP, no CREATE on the database or any schema).
func TestSchemaTrustsNoCallersSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A database that migrations.Up itself prepared (test databases copied
	// from a template do not inherit its ACL).
	db := tenantdbtest.NewEmptyDatabase(t)
	if err := migrations.Up(ctx, db.OwnerURL, migrations.Options{Dims: tenantdbtest.Dims}); err != nil {
		t.Fatal(err)
	}
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	rows, err := owner.Query(ctx, `SELECT p.oid::regprocedure::text, p.prosecdef, coalesce(p.proconfig, '{}'),
			has_function_privilege('public', p.oid, 'EXECUTE')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public' AND NOT EXISTS (
			SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`) // not pgvector's
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	definers, functions := 0, 0
	for rows.Next() {
		var (
			name         string
			definer, pub bool
			config       []string
		)
		if err := rows.Scan(&name, &definer, &config, &pub); err != nil {
			t.Fatal(err)
		}
		functions++
		if definer {
			definers++
		}
		if !tenantdb.PinnedSearchPath(config) {
			t.Errorf("function %s: search_path not pinned with pg_temp last (config %q)", name, config)
		}
		if pub {
			t.Errorf("function %s is executable by PUBLIC", name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Definers: tenantry_audit and tenantry_support_read (0007) at least.
	if functions < 6 || definers < 2 {
		t.Fatalf("found %d functions, %d definers: the query missed the schema", functions, definers)
	}
	worker := tenantdbtest.Conn(t, db.WorkerURL)
	var temp, create bool
	var schemas []string
	if err := worker.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'TEMPORARY'),
		has_database_privilege(current_database(), 'CREATE'),
		coalesce(array_agg(nspname) FILTER (WHERE has_schema_privilege(oid, 'CREATE')), '{}')
		FROM pg_namespace`).Scan(&temp, &create, &schemas); err != nil {
		t.Fatal(err)
	}
	if temp || create || len(schemas) > 0 {
		t.Fatalf("worker role: TEMP %v, CREATE on database %v, CREATE on schemas %q; want none", temp, create, schemas)
	}
}
