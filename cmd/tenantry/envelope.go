package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/service"
)

// EnvelopeCmd groups the envelope tools for operators and tests.
type EnvelopeCmd struct {
	Keygen EnvelopeKeygenCmd `cmd:"" help:"Generate a local signing key (private key file; public JWK on stdout)."`
	Sign   EnvelopeSignCmd   `cmd:"" help:"Sign an envelope with a key file or KMS and print it."`
	Verify EnvelopeVerifyCmd `cmd:"" help:"Verify an envelope; print its claims, or its reason code and exit 1."`
	JWKS   EnvelopeJWKSCmd   `cmd:"" name:"jwks" help:"Print the public JWKS of signing keys (key files and/or KMS keys)."`
}

// EnvelopeKeygenCmd writes a new private key and prints its public JWK.
type EnvelopeKeygenCmd struct {
	Alg    string `name:"alg" enum:"ES256,EdDSA" default:"ES256" help:"Algorithm (ES256 or EdDSA)."`
	KID    string `name:"kid" help:"Key id (default: RFC 7638 thumbprint)."`
	Out    string `name:"out" required:"" help:"Private key file to create (mode 0600; .pem writes PKCS#8 PEM, else a JWK)."`
	JWKS   string `name:"jwks" help:"Also add the public key to this JWKS file (created if missing): publish it before signing with the key."`
	Format string `name:"format" enum:"auto,pem,jwk" default:"auto" help:"Private key format."`
}

// Run generates the key.
func (c *EnvelopeKeygenCmd) Run(*Globals) error {
	s, err := envelope.GenerateKey(c.Alg, c.KID)
	if err != nil {
		return err
	}
	if err := envelope.WriteKeyFile(s, c.Out, c.Format); err != nil {
		return err
	}
	if c.JWKS != "" {
		if err := envelope.AddToJWKSFile(c.JWKS, s.PublicKey()); err != nil {
			return err
		}
	}
	pub, err := json.Marshal(s.PublicKey().JWK())
	if err != nil {
		return err
	}
	fmt.Println(string(pub))
	return nil
}

// EnvelopeSignCmd signs one envelope.
type EnvelopeSignCmd struct {
	AWS    AWSFlags            `embed:""`
	Signer EnvelopeSignerFlags `embed:""`
	Claims EnvelopeIssuerFlags `embed:""`

	Tenant   string `name:"tenant" required:"" help:"Tenant id (UUID)."`
	Actor    string `name:"actor" required:"" help:"sub claim: the user or service asking for the work."`
	Action   string `name:"action" enum:"ingest,reindex,delete,purge,search" default:"ingest" help:"act claim."`
	Resource string `name:"resource" help:"res claim: s3://bucket/key or doc:<id> (or use --bucket and --key)."`
	Bucket   string `name:"bucket" help:"Bucket of the object (with --key)."`
	Key      string `name:"key" help:"Object key (with --bucket)."`
	BodyFile string `name:"body-file" help:"Job body to bind (bh claim); - reads stdin."`
	JSON     bool   `name:"json" help:"Print {envelope, claims, bytes} instead of the bare token."`
}

// Run signs and prints.
func (c *EnvelopeSignCmd) Run(g *Globals) error {
	ctx := g.Context()
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return err
	}
	res := c.Resource
	switch {
	case res != "" && (c.Bucket != "" || c.Key != ""):
		return errors.New("use --resource or --bucket/--key, not both")
	case res == "" && c.Bucket != "" && c.Key != "":
		res = envelope.ObjectResource(c.Bucket, c.Key)
	case res == "":
		return errors.New("--resource or --bucket and --key are required")
	}
	iss, err := c.Signer.signing().Issuer(ctx, c.AWS.settings(), c.Claims.config())
	if err != nil {
		return err
	}
	claims := iss.Claims(tenant, c.Actor, envelope.Action(c.Action), res)
	if c.BodyFile != "" {
		body, err := readInput(c.BodyFile)
		if err != nil {
			return err
		}
		claims.BodyHash = envelope.BodyHash(body)
	}
	tok, err := iss.Sign(ctx, claims)
	if err != nil {
		return err
	}
	if !c.JSON {
		fmt.Println(tok)
		return nil
	}
	return printJSON(map[string]any{"envelope": tok, "claims": json.RawMessage(mustClaimsJSON(claims)), "bytes": len(tok)})
}

// EnvelopeVerifyCmd verifies one envelope.
type EnvelopeVerifyCmd struct {
	AWS    AWSFlags              `embed:""`
	Verify EnvelopeVerifierFlags `embed:""`

	Token    string `arg:"" default:"-" help:"The envelope, or - for stdin."`
	Bucket   string `name:"bucket" help:"Check the binding to this object (with --key)."`
	Key      string `name:"key" help:"Object key (with --bucket)."`
	BodyFile string `name:"body-file" help:"Check the binding to this job body (bh); - reads stdin."`
}

// Run verifies and prints the result.
func (c *EnvelopeVerifyCmd) Run(g *Globals) error {
	ctx := g.Context()
	token, err := tokenArg(c.Token)
	if err != nil {
		return err
	}
	v, err := c.Verify.trust().Verifier(ctx, c.AWS.settings(), g.Logger())
	if err != nil {
		return err
	}
	var got envelope.Verified
	switch {
	case c.Bucket != "" || c.Key != "":
		got, err = v.VerifyObject(ctx, token, c.Bucket, c.Key)
	case c.BodyFile != "":
		body, rerr := readInput(c.BodyFile)
		if rerr != nil {
			return rerr
		}
		got, err = v.VerifyJob(ctx, token, body)
	default:
		got, err = v.Verify(ctx, token)
	}
	if reason := envelope.ReasonOf(err); reason != "" {
		_ = printJSON(map[string]any{"valid": false, "reason": reason})
		return fmt.Errorf("envelope refused: %s", reason)
	}
	if err != nil {
		return err
	}
	return printJSON(map[string]any{"valid": true, "claims": json.RawMessage(mustClaimsJSON(got.Claims)), "scope": got.Scope.String()})
}

// EnvelopeJWKSCmd prints the public keys of signing keys as a JWKS.
type EnvelopeJWKSCmd struct {
	AWS       AWSFlags `embed:""`
	KeyFiles  []string `name:"key-file" help:"Private key files (repeatable)." type:"existingfile"`
	KMSKeyIDs []string `name:"kms-key-id" help:"KMS keys (repeatable)."`
}

// Run prints the JWKS.
func (c *EnvelopeJWKSCmd) Run(g *Globals) error {
	out, err := service.PublicJWKS(g.Context(), c.AWS.settings(), c.KeyFiles, c.KMSKeyIDs)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func parseTenant(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s || id == uuid.Nil {
		return uuid.Nil, errors.New("--tenant must be a canonical lower-case UUID")
	}
	return id, nil
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

func mustClaimsJSON(c envelope.Claims) []byte {
	b, err := c.MarshalJSON()
	if err != nil {
		return []byte("null")
	}
	return b
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
