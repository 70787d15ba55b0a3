package main

import (
	"os"
	"time"

	"github.com/tenantry/tenantry/internal/output"
	"github.com/tenantry/tenantry/internal/presign"
)

// presignFlags are shared by `presign` and `upload`.
type presignFlags struct {
	AWS    AWSFlags            `embed:""`
	S3     S3Endpoint          `embed:""`
	KMS    KMSEndpoint         `embed:""`
	Signer EnvelopeSignerFlags `embed:""`
	Claims EnvelopeIssuerFlags `embed:""`

	Bucket   string        `name:"bucket" env:"TENANTRY_BUCKET,TENANTRY_UPLOAD_BUCKET" required:"" help:"Upload bucket."`
	Tenant   string        `name:"tenant" required:"" help:"Tenant id (UUID)."`
	Document string        `name:"document" help:"Document id (default: a new UUID)."`
	Actor    string        `name:"actor" required:"" help:"Who uploads (envelope sub)."`
	Expires  time.Duration `name:"expires" default:"15m" help:"URL lifetime."`

	JSONOutputFlags `embed:""`
}

func (c *presignFlags) presigner(g *Globals) (*presign.Presigner, error) {
	return c.Signer.signing().Presigner(g.Context(), c.AWS.settings(c.S3, c.KMS), c.Claims.config(),
		presign.Config{Bucket: c.Bucket, Expires: c.Expires}, g.Logger())
}

func (c *presignFlags) request(filename, contentType string, size int64) (presign.Request, error) {
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return presign.Request{}, err
	}
	return presign.Request{TenantID: tenant, DocumentID: c.Document, Filename: filename, Actor: c.Actor, ContentType: contentType, ContentLength: size}, nil
}

// PresignCmd prints a presigned upload (URL plus the headers to send).
type PresignCmd struct {
	presignFlags `embed:""`

	Filename    string `name:"filename" required:"" help:"File name (last key segment)."`
	ContentType string `name:"content-type" help:"Content type to sign (default application/octet-stream)."`
	Size        int64  `name:"size" help:"Exact size in bytes to sign (0: not bound)."`
}

// Run prints the presigned upload as JSON.
func (c *PresignCmd) Run(g *Globals) error {
	p, err := c.presigner(g)
	if err != nil {
		return err
	}
	req, err := c.request(c.Filename, c.ContentType, c.Size)
	if err != nil {
		return err
	}
	up, err := p.Presign(g.Context(), req)
	if err != nil {
		return err
	}
	return output.Write(os.Stdout, c.format(), up)
}

// UploadCmd presigns and uploads a local file in one step.
type UploadCmd struct {
	presignFlags `embed:""`

	Filename    string `name:"filename" help:"File name in the key (default: the file's base name)."`
	ContentType string `name:"content-type" help:"Content type (default: from the file extension)."`
	File        string `arg:"" type:"existingfile" help:"File to upload."`
}

// Run uploads the file through a freshly presigned URL.
func (c *UploadCmd) Run(g *Globals) error {
	p, err := c.presigner(g)
	if err != nil {
		return err
	}
	req, err := c.request(c.Filename, c.ContentType, 0)
	if err != nil {
		return err
	}
	up, size, err := p.UploadFile(g.Context(), req, c.File)
	if err != nil {
		return err
	}
	return output.Write(os.Stdout, c.format(), map[string]any{"bucket": up.Bucket, "key": up.Key, "document_id": up.DocumentID, "bytes": size})
}
