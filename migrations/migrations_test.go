package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
