package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/output"
	"github.com/tenantry/tenantry/internal/service"
)

// SupportCmd is audited support access: grants (owner role) and reads
// (support role). Every grant, revoke and read lands in the tenant's audit
// chain; every refused read is a security event.
type SupportCmd struct {
	Grant  SupportGrantCmd  `cmd:"" help:"Let one operator read one tenant's data for a limited time (owner role; audited)."`
	Revoke SupportRevokeCmd `cmd:"" help:"End a grant now (owner role; audited)."`
	List   SupportListCmd   `cmd:"" help:"List grants (owner role)."`
	Read   SupportReadCmd   `cmd:"" help:"Read one tenant's documents or one document's chunks under a grant (support role; audited)."`
}

// SupportOwnerDB is the owner-role connection of grant, revoke and list.
type SupportOwnerDB struct {
	OwnerURL string `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string (only the owner creates or revokes grants)."`
	By       string `name:"by" env:"USER" required:"" help:"Who grants or revokes (recorded as the audit actor)."`
}

// SupportGrantCmd creates a grant.
type SupportGrantCmd struct {
	SupportOwnerDB
	Tenant   string        `name:"tenant" required:"" help:"Tenant id."`
	Operator string        `name:"operator" required:"" help:"The support operator allowed to read (letters, digits, . _ @ + -)."`
	Reason   string        `name:"reason" required:"" help:"Why (a ticket reference); recorded in every read's audit event."`
	TTL      time.Duration `name:"ttl" default:"1h" help:"How long the grant lasts (at most 168h)."`
}

// Run grants.
func (c *SupportGrantCmd) Run(g *Globals) error {
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return err
	}
	grant, err := service.SupportGrant(g.Context(), c.OwnerURL, tenant, c.Operator, c.Reason, c.TTL, c.By)
	if err != nil {
		return err
	}
	return output.WriteJSON(os.Stdout, grant)
}

// SupportRevokeCmd revokes a grant.
type SupportRevokeCmd struct {
	SupportOwnerDB
	Tenant string `name:"tenant" required:"" help:"Tenant id of the grant."`
	Grant  string `name:"grant" required:"" help:"Grant id."`
}

// Run revokes.
func (c *SupportRevokeCmd) Run(g *Globals) error {
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(c.Grant)
	if err != nil {
		return errors.New("--grant is not a grant id")
	}
	ok, err := service.SupportRevoke(g.Context(), c.OwnerURL, tenant, id, c.By)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no active grant with that id for that tenant")
	}
	fmt.Println("revoked", id)
	return nil
}

// SupportListCmd lists grants.
type SupportListCmd struct {
	OwnerURL string `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string."`
	Tenant   string `name:"tenant" help:"Only this tenant's grants."`
}

// Run lists.
func (c *SupportListCmd) Run(g *Globals) error {
	tenant := uuid.Nil
	if c.Tenant != "" {
		var err error
		if tenant, err = parseTenant(c.Tenant); err != nil {
			return err
		}
	}
	grants, err := service.SupportList(g.Context(), c.OwnerURL, tenant)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, gr := range grants {
		if err := enc.Encode(gr); err != nil {
			return err
		}
	}
	return nil
}

// SupportReadCmd reads under a grant.
type SupportReadCmd struct {
	SupportURL string `name:"support-url" env:"TENANTRY_SUPPORT_DATABASE_URL" required:"" help:"Connection string of a support login (member of the support role; no table privileges)."`
	Tenant     string `name:"tenant" required:"" help:"Tenant id (must be the grant's)."`
	Grant      string `name:"grant" required:"" help:"Grant id."`
	Operator   string `name:"operator" required:"" help:"Operator named by the grant."`
	What       string `name:"what" enum:"documents,chunks" default:"documents" help:"documents (metadata) or chunks (of --document)."`
	Document   string `name:"document" help:"Document id (with --what chunks)."`
}

// Run reads.
func (c *SupportReadCmd) Run(g *Globals) error {
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(c.Grant)
	if err != nil {
		return errors.New("--grant is not a grant id")
	}
	rows, err := service.SupportRead(g.Context(), c.SupportURL, service.SupportRequest{
		Tenant: tenant, Grant: id, Operator: c.Operator, What: c.What, Document: c.Document})
	if err != nil {
		return err
	}
	for _, r := range rows {
		fmt.Println(string(r))
	}
	return nil
}
