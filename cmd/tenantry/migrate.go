package main

import (
	"github.com/tenantry/tenantry/migrations"
)

// MigrateCmd applies the embedded schema as the OWNER role.
type MigrateCmd struct {
	OwnerURL        string `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Connection string of the owner role (owns the tables; never the worker's)."`
	Dims            int    `name:"embed-dims" aliases:"dims" env:"TENANTRY_EMBEDDING_DIMS" default:"1024" help:"Embedding dimension of chunks.embedding (fixed at the first migration)."`
	WorkerRole      string `name:"worker-role" env:"TENANTRY_WORKER_ROLE" default:"tenantry_worker" help:"Login role the worker connects as (created NOLOGIN if missing)."`
	WorkerPassword  string `name:"worker-password" env:"TENANTRY_WORKER_DB_PASSWORD" help:"If set, make the worker role LOGIN with this password."`
	SupportRole     string `name:"support-role" env:"TENANTRY_SUPPORT_ROLE" default:"tenantry_support" help:"Role of support staff: no table privileges, only the audited support read (created NOLOGIN if missing; grant it to personal logins)."`
	SupportPassword string `name:"support-password" env:"TENANTRY_SUPPORT_DB_PASSWORD" help:"If set, make the support role itself LOGIN with this password (prefer personal logins IN ROLE the support role)."`
	AuditorRole     string `name:"auditor-role" env:"TENANTRY_AUDITOR_ROLE" default:"tenantry_auditor" help:"Role that reads every tenant's audit chain and nothing else (audit verify/anchor/export; created NOLOGIN if missing)."`
	AuditorPassword string `name:"auditor-password" env:"TENANTRY_AUDITOR_DB_PASSWORD" help:"If set, make the auditor role LOGIN with this password."`
}

// Run migrates.
func (c *MigrateCmd) Run(g *Globals) error {
	return migrations.Up(g.Context(), c.OwnerURL, migrations.Options{
		Dims: c.Dims, WorkerRole: c.WorkerRole, WorkerPassword: c.WorkerPassword,
		SupportRole: c.SupportRole, SupportPassword: c.SupportPassword,
		AuditorRole: c.AuditorRole, AuditorPassword: c.AuditorPassword, Logger: g.Logger(),
	})
}
