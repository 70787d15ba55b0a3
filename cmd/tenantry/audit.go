package main

import (
	"os"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/service"
)

// AuditCmd verifies and exports the audit chains (owner role: reads every tenant).
type AuditCmd struct {
	Verify AuditVerifyCmd `cmd:"" help:"Recompute every tenant's hash chain; exit 1 if any is broken."`
	Export AuditExportCmd `cmd:"" help:"Write one tenant's audit events as JSON lines."`
}

// AuditDB is the owner-role connection used by the audit commands.
type AuditDB struct {
	OwnerURL string `name:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string (its policy may read every tenant's chain)."`
}

// AuditVerifyCmd verifies chains.
type AuditVerifyCmd struct {
	AuditDB
	Tenant []string `name:"tenant" help:"Only these tenants (default: all)."`
	JSON   bool     `name:"json" help:"JSON lines instead of a table."`
}

// Run verifies.
func (c *AuditVerifyCmd) Run(g *Globals) error {
	ctx := g.Context()
	tenants, err := parseTenants(c.Tenant...)
	if err != nil {
		return err
	}
	reports, err := service.AuditVerify(ctx, c.OwnerURL, tenants)
	if err != nil {
		return err
	}
	return audit.WriteReports(os.Stdout, reports, c.JSON)
}

// AuditExportCmd exports a tenant's events.
type AuditExportCmd struct {
	AuditDB
	Tenant string `name:"tenant" required:"" help:"Tenant id."`
}

// Run exports.
func (c *AuditExportCmd) Run(g *Globals) error {
	ctx := g.Context()
	tenants, err := parseTenants(c.Tenant)
	if err != nil {
		return err
	}
	return service.AuditExport(ctx, c.OwnerURL, tenants[0], os.Stdout)
}
