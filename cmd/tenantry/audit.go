package main

import (
	"errors"
	"os"
	"time"

	"github.com/tenantry/tenantry/internal/anchor"
	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/service"
)

// AuditCmd verifies, anchors and exports the audit chains (owner role: reads every tenant).
type AuditCmd struct {
	Verify AuditVerifyCmd `cmd:"" help:"Recompute every tenant's hash chain (and check it against its signed anchors with --anchors); exit 3 if any is broken."`
	Anchor AuditAnchorCmd `cmd:"" help:"Sign every tenant's chain head and store it in S3 under Object Lock (once, or every --every)."`
	Export AuditExportCmd `cmd:"" help:"Write one tenant's audit events as JSON lines, or an offline bundle with its anchors (--anchors --out)."`
}

// AuditDB is the owner-role connection used by the audit commands.
type AuditDB struct {
	OwnerURL string `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" help:"Connection string of a role that reads every tenant's chain: the read-only auditor role (tenantry_auditor) or the owner."`
}

// AnchorFlags locate the anchors and name the anchoring and trusted keys.
type AnchorFlags struct {
	Anchors        string   `name:"anchors" env:"TENANTRY_AUDIT_ANCHORS" help:"Anchor location: s3://bucket/anchors/ (a bucket with Object Lock enabled)."`
	AnchorKeyFile  string   `name:"anchor-key-file" env:"TENANTRY_ANCHOR_KEY_FILE" help:"Private key file that signs anchors (PEM or JWK), as for envelopes." type:"existingfile"`
	AnchorKID      string   `name:"anchor-kid" env:"TENANTRY_ANCHOR_KID" help:"kid of the anchor key file (default: the JWK's kid, else the thumbprint)."`
	AnchorKMSKeyID string   `name:"anchor-kms-key-id" env:"TENANTRY_ANCHOR_KMS_KEY_ID" help:"KMS key that signs anchors (instead of --anchor-key-file)."`
	AnchorJWKSFile string   `name:"anchor-jwks-file" env:"TENANTRY_ANCHOR_JWKS_FILE" help:"Trusted anchor public keys (JWKS file); default: the anchoring key itself."`
	AnchorJWKSURL  string   `name:"anchor-jwks-url" env:"TENANTRY_ANCHOR_JWKS_URL" help:"Trusted anchor public keys (JWKS URL)."`
	AnchorKMSKeys  []string `name:"anchor-kms-key-ids" env:"TENANTRY_ANCHOR_KMS_KEY_IDS" help:"Trusted anchor KMS keys (ids, ARNs, aliases)."`
}

func (f AnchorFlags) settings(ownerURL string) service.Anchoring {
	return service.Anchoring{OwnerURL: ownerURL, Location: f.Anchors,
		Signing: service.Signing{KeyFile: f.AnchorKeyFile, KID: f.AnchorKID, KMSKeyID: f.AnchorKMSKeyID},
		Keys:    service.Trust{JWKSFile: f.AnchorJWKSFile, JWKSURL: f.AnchorJWKSURL, KMSKeyIDs: f.AnchorKMSKeys}}
}

var errNeedOwner = exitcode.Usagef("--owner-database-url (TENANTRY_OWNER_DATABASE_URL) is required")

// AuditVerifyCmd verifies chains.
type AuditVerifyCmd struct {
	AuditDB
	AWS         AWSFlags    `embed:""`
	S3          S3Endpoint  `embed:""`
	KMS         KMSEndpoint `embed:""`
	Anchor      AnchorFlags `embed:""`
	Tenant      []string    `name:"tenant" help:"Only these tenants (default: all)."`
	Bundle      string      `name:"bundle" help:"Verify an offline bundle directory (from audit export --out) with the trusted anchor keys; no database." type:"existingdir"`
	RecordAs    string      `name:"record-as" help:"Also record each tenant's result in its own chain (audit.verified, actor cli:NAME), where the console shows the last verification."`
	OutputFlags `embed:""`
}

// Run verifies.
func (c *AuditVerifyCmd) Run(g *Globals) error {
	ctx := g.Context()
	if c.Bundle != "" {
		s := c.Anchor.settings("")
		r, err := service.AuditVerifyBundle(ctx, c.AWS.settings(c.S3, c.KMS), s.Keys, c.Bundle, g.Logger())
		if err != nil {
			return err
		}
		return anchor.WriteReports(os.Stdout, []anchor.Report{r}, c.format().IsJSON())
	}
	if c.OwnerURL == "" {
		return errNeedOwner
	}
	tenants, err := parseTenants(c.Tenant...)
	if err != nil {
		return err
	}
	if c.Anchor.Anchors != "" {
		reports, err := service.AuditVerifyAnchored(ctx, c.AWS.settings(c.S3, c.KMS), c.Anchor.settings(c.OwnerURL), tenants, g.Logger())
		if err != nil {
			return err
		}
		return anchor.WriteReports(os.Stdout, reports, c.format().IsJSON())
	}
	var reports []audit.TenantReport
	if c.RecordAs != "" {
		var recErr error
		reports, recErr = service.AuditVerifyAndRecord(ctx, c.OwnerURL, tenants, "cli:"+c.RecordAs)
		if reports == nil {
			return recErr
		}
		if err := audit.WriteReports(os.Stdout, reports, c.format().IsJSON()); err != nil {
			return err
		}
		return recErr
	}
	reports, err = service.AuditVerify(ctx, c.OwnerURL, tenants)
	if err != nil {
		return err
	}
	return audit.WriteReports(os.Stdout, reports, c.format().IsJSON())
}

// AuditAnchorCmd anchors chain heads.
type AuditAnchorCmd struct {
	AuditDB
	AWS         AWSFlags      `embed:""`
	S3          S3Endpoint    `embed:""`
	KMS         KMSEndpoint   `embed:""`
	Anchor      AnchorFlags   `embed:""`
	Retention   time.Duration `name:"retention" env:"TENANTRY_ANCHOR_RETENTION" default:"9600h" help:"Object Lock retention of each anchor (default 400 days)."`
	Mode        string        `name:"lock-mode" env:"TENANTRY_ANCHOR_LOCK_MODE" enum:"COMPLIANCE,GOVERNANCE" default:"COMPLIANCE" help:"Object Lock mode (COMPLIANCE: nobody can delete or shorten it)."`
	Every       time.Duration `name:"every" env:"TENANTRY_ANCHOR_EVERY" help:"Anchor again at this interval until stopped (default: once)."`
	Tenant      []string      `name:"tenant" help:"Only these tenants (default: all)."`
	OutputFlags `embed:""`
}

// Run anchors.
func (c *AuditAnchorCmd) Run(g *Globals) error {
	if c.OwnerURL == "" {
		return errNeedOwner
	}
	if c.Anchor.Anchors == "" {
		return errors.New("--anchors s3://bucket/anchors/ is required")
	}
	tenants, err := parseTenants(c.Tenant...)
	if err != nil {
		return err
	}
	s := c.Anchor.settings(c.OwnerURL)
	s.Retention, s.Mode = c.Retention, c.Mode
	return service.AuditAnchor(g.Context(), c.AWS.settings(c.S3, c.KMS), s, tenants, c.Every, g.Logger(), func(res []anchor.Result) error {
		return anchor.WriteResults(os.Stdout, res, c.format().IsJSON())
	})
}

// AuditExportCmd exports a tenant's events.
type AuditExportCmd struct {
	AuditDB
	AWS    AWSFlags    `embed:""`
	S3     S3Endpoint  `embed:""`
	KMS    KMSEndpoint `embed:""`
	Anchor AnchorFlags `embed:""`
	Tenant string      `name:"tenant" required:"" help:"Tenant id."`
	Out    string      `name:"out" help:"Write an offline bundle (events, anchors, public keys, SHA256SUMS) into this new directory (needs --anchors)."`
}

// Run exports.
func (c *AuditExportCmd) Run(g *Globals) error {
	ctx := g.Context()
	if c.OwnerURL == "" {
		return errNeedOwner
	}
	tenants, err := parseTenants(c.Tenant)
	if err != nil {
		return err
	}
	if c.Out != "" || c.Anchor.Anchors != "" {
		if c.Out == "" || c.Anchor.Anchors == "" {
			return errors.New("an offline bundle needs both --anchors and --out")
		}
		return service.AuditExportBundle(ctx, c.AWS.settings(c.S3, c.KMS), c.Anchor.settings(c.OwnerURL), tenants[0], c.Out, g.Logger())
	}
	return service.AuditExport(ctx, c.OwnerURL, tenants[0], os.Stdout)
}
