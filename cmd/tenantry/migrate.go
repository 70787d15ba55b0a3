package main

import (
	"github.com/tenantry/tenantry/migrations"
)

// MigrateCmd applies the embedded schema as the OWNER role.
type MigrateCmd struct {
	OwnerURL       string `name:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Connection string of the owner role (owns the tables; never the worker's)."`
	Dims           int    `name:"dims" env:"TENANTRY_EMBEDDING_DIMS" default:"1024" help:"Embedding dimension of chunks.embedding (fixed at the first migration)."`
	WorkerRole     string `name:"worker-role" env:"TENANTRY_WORKER_ROLE" default:"tenantry_worker" help:"Login role the worker connects as (created NOLOGIN if missing)."`
	WorkerPassword string `name:"worker-password" env:"TENANTRY_WORKER_DB_PASSWORD" help:"If set, make the worker role LOGIN with this password."`
}

// Run migrates.
func (c *MigrateCmd) Run(g *Globals) error {
	return migrations.Up(g.Context(), c.OwnerURL, migrations.Options{
		Dims: c.Dims, WorkerRole: c.WorkerRole, WorkerPassword: c.WorkerPassword, Logger: g.Logger(),
	})
}
