package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/service"
)

// EnvelopeCmd groups the envelope tools for operators and tests.
type EnvelopeCmd struct {
	Keygen EnvelopeKeygenCmd `cmd:"" help:"Generate a local signing key (private key file; public JWK on stdout)."`
	Sign   EnvelopeSignCmd   `cmd:"" help:"Sign an envelope with a key file or KMS and print it."`
	Verify EnvelopeVerifyCmd `cmd:"" help:"Verify an envelope; print its claims, or its reason code and exit 3."`
	JWKS   EnvelopeJWKSCmd   `cmd:"" name:"jwks" help:"Print the public JWKS of signing keys (key files and/or KMS keys)."`
}

// EnvelopeKeygenCmd writes a new private key and prints its public JWK.
type EnvelopeKeygenCmd struct {
	Alg    string `name:"alg" enum:"ES256,EdDSA" default:"ES256" help:"Algorithm (ES256 or EdDSA)."`
	KID    string `name:"envelope-kid" aliases:"kid" help:"Key id (default: RFC 7638 thumbprint)."`
	Out    string `name:"out" required:"" help:"Private key file to create (mode 0600; .pem writes PKCS#8 PEM, else a JWK)."`
	JWKS   string `name:"jwks" help:"Also add the public key to this JWKS file (created if missing): publish it before signing with the key."`
	Format string `name:"format" enum:"auto,pem,jwk" default:"auto" help:"Private key format."`
}

// Run generates the key.
func (c *EnvelopeKeygenCmd) Run(*Globals) error {
	return service.EnvelopeKeygen(service.KeyGen{Alg: c.Alg, KID: c.KID, Out: c.Out, Format: c.Format, JWKS: c.JWKS}, os.Stdout)
}

// EnvelopeSignCmd signs one envelope.
type EnvelopeSignCmd struct {
	AWS    AWSFlags            `embed:""`
	KMS    KMSEndpoint         `embed:""`
	Signer EnvelopeSignerFlags `embed:""`
	Claims EnvelopeIssuerFlags `embed:""`

	Tenant   string `name:"tenant" required:"" help:"Tenant id (UUID)."`
	Actor    string `name:"actor" required:"" help:"sub claim: the user or service asking for the work."`
	Action   string `name:"action" enum:"ingest,reindex,delete,purge,search" default:"ingest" help:"act claim."`
	Resource string `name:"resource" help:"res claim: s3://bucket/key or doc:<id> (or use --bucket and --key)."`
	Bucket   string `name:"bucket" help:"Bucket of the object (with --key)."`
	Key      string `name:"key" help:"Object key (with --bucket)."`
	BodyFile string `name:"body-file" help:"Job body to bind (bh claim); - reads stdin."`
	Output   string `name:"output" short:"o" enum:"table,json" default:"table" help:"table: the bare token; json: {envelope, claims, bytes}."`
}

// Run signs and prints.
func (c *EnvelopeSignCmd) Run(g *Globals) error {
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return err
	}
	req := service.SignRequest{Tenant: tenant, Actor: c.Actor, Action: envelope.Action(c.Action),
		Resource: c.Resource, Bucket: c.Bucket, Key: c.Key, JSON: c.Output == "json"}
	if c.BodyFile != "" {
		if req.Body, err = readInput(c.BodyFile); err != nil {
			return err
		}
	}
	return service.EnvelopeSign(g.Context(), c.AWS.settings(c.KMS), c.Signer.signing(), c.Claims.config(), req, os.Stdout)
}

// EnvelopeVerifyCmd verifies one envelope.
type EnvelopeVerifyCmd struct {
	AWS   AWSFlags              `embed:""`
	KMS   KMSEndpoint           `embed:""`
	Trust EnvelopeVerifierFlags `embed:""`

	JSONOutputFlags `embed:""`

	Token    string `arg:"" default:"-" help:"The envelope, or - for stdin."`
	Bucket   string `name:"bucket" help:"Check the binding to this object (with --key)."`
	Key      string `name:"key" help:"Object key (with --bucket)."`
	BodyFile string `name:"body-file" help:"Check the binding to this job body (bh); - reads stdin."`
}

// Run verifies and prints the verdict.
func (c *EnvelopeVerifyCmd) Run(g *Globals) error {
	token, err := tokenArg(c.Token)
	if err != nil {
		return err
	}
	req := envelope.CheckRequest{Token: token, Bucket: c.Bucket, Key: c.Key}
	if c.BodyFile != "" && c.Bucket == "" && c.Key == "" {
		if req.Body, err = readInput(c.BodyFile); err != nil {
			return err
		}
	}
	return service.EnvelopeVerify(g.Context(), c.AWS.settings(c.KMS), c.Trust.trust(), req, os.Stdout, c.format(), g.Logger())
}

// EnvelopeJWKSCmd prints the public keys of signing keys as a JWKS.
type EnvelopeJWKSCmd struct {
	AWS       AWSFlags    `embed:""`
	KMS       KMSEndpoint `embed:""`
	KeyFiles  []string    `name:"envelope-key-file" aliases:"key-file" help:"Private key files (repeatable)." type:"existingfile"`
	KMSKeyIDs []string    `name:"envelope-kms-key-id" aliases:"kms-key-id" help:"KMS keys (repeatable)."`
}

// Run prints the JWKS.
func (c *EnvelopeJWKSCmd) Run(g *Globals) error {
	out, err := service.PublicJWKS(g.Context(), c.AWS.settings(c.KMS), c.KeyFiles, c.KMSKeyIDs)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// tokenArg returns an envelope given on the command line, or read from
// stdin for "-", without surrounding white space.
func tokenArg(s string) (string, error) {
	if s != "-" {
		return strings.TrimSpace(s), nil
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
	return strings.TrimSpace(string(b)), err
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, 256<<10))
	}
	return os.ReadFile(path)
}
