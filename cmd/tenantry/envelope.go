package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/envelope"
)

// EnvelopeCmd groups the envelope tools for operators and tests.
type EnvelopeCmd struct {
	Keygen EnvelopeKeygenCmd `cmd:"" help:"Generate a local signing key (private key file; public JWK on stdout)."`
	Sign   EnvelopeSignCmd   `cmd:"" help:"Sign an envelope with a key file or KMS and print it."`
	Verify EnvelopeVerifyCmd `cmd:"" help:"Verify an envelope; print its claims, or its reason code and exit 1."`
	JWKS   EnvelopeJWKSCmd   `cmd:"" name:"jwks" help:"Print the public JWKS of signing keys (key files and/or KMS keys)."`
}

// EnvelopeSignerFlags choose the signing key: a local file or a KMS key.
type EnvelopeSignerFlags struct {
	KeyFile  string `name:"key-file" env:"TENANTRY_ENVELOPE_KEY_FILE" help:"Private key file (PKCS#8/SEC1 PEM or private JWK)." type:"existingfile"`
	KID      string `name:"kid" env:"TENANTRY_ENVELOPE_KID" help:"kid to write (default: the JWK's kid, else the key thumbprint)."`
	KMSKeyID string `name:"kms-key-id" env:"TENANTRY_ENVELOPE_KMS_KEY_ID" help:"KMS key id, ARN or alias to sign with (instead of --key-file)."`
}

// Signer builds the chosen signer.
func (f EnvelopeSignerFlags) Signer(ctx context.Context, aws AWSFlags) (envelope.Signer, error) {
	switch {
	case f.KeyFile != "" && f.KMSKeyID != "":
		return nil, errors.New("use one of --key-file and --kms-key-id")
	case f.KeyFile != "":
		return envelope.LoadKeySigner(f.KeyFile, f.KID)
	case f.KMSKeyID != "":
		client, err := aws.KMS(ctx)
		if err != nil {
			return nil, err
		}
		return envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: f.KMSKeyID})
	}
	return nil, errors.New("a signing key is required: --key-file or --kms-key-id")
}

// EnvelopeIssuerFlags are the routine claims a producer writes.
type EnvelopeIssuerFlags struct {
	Issuer   string        `name:"issuer" env:"TENANTRY_ENVELOPE_ISSUER" required:"" help:"iss claim: who signs (your backend)."`
	Audience string        `name:"audience" env:"TENANTRY_ENVELOPE_AUDIENCE" default:"tenantry" help:"aud claim."`
	TTL      time.Duration `name:"ttl" env:"TENANTRY_ENVELOPE_TTL" default:"24h" help:"Envelope lifetime (must cover queue wait and retries)."`
}

// NewIssuer builds an envelope.Issuer signing with s.
func (f EnvelopeIssuerFlags) NewIssuer(s envelope.Signer) (*envelope.Issuer, error) {
	return envelope.NewIssuer(s, envelope.IssuerConfig{Issuer: f.Issuer, Audience: f.Audience, TTL: f.TTL})
}

// EnvelopeVerifierFlags configure verification: the worker, the DLQ tools
// and `envelope verify` share them.
type EnvelopeVerifierFlags struct {
	Audience  string        `name:"audience" env:"TENANTRY_ENVELOPE_AUDIENCE" default:"tenantry" help:"Required aud."`
	Issuers   []string      `name:"issuer" env:"TENANTRY_ENVELOPE_ISSUERS" required:"" help:"Trusted iss values (repeat or comma-separate)."`
	JWKSURL   string        `name:"jwks-url" env:"TENANTRY_ENVELOPE_JWKS_URL" help:"JWKS URL of trusted keys (https; http only for loopback)."`
	JWKSFile  string        `name:"jwks-file" env:"TENANTRY_ENVELOPE_JWKS_FILE" help:"JWKS file of trusted keys (re-read every few minutes)."`
	KMSKeyIDs []string      `name:"kms-key-ids" env:"TENANTRY_ENVELOPE_KMS_KEY_IDS" help:"Trusted KMS signing keys (ids, ARNs, aliases)."`
	Leeway    time.Duration `name:"leeway" env:"TENANTRY_ENVELOPE_LEEWAY" default:"30s" help:"Clock skew allowance."`
}

// Verifier builds an envelope.Verifier from every configured key source.
func (f EnvelopeVerifierFlags) Verifier(ctx context.Context, aws AWSFlags, logger *zap.Logger) (*envelope.Verifier, error) {
	var sources []envelope.KeySource
	for _, jc := range []envelope.JWKSConfig{{URL: f.JWKSURL}, {Path: f.JWKSFile}} {
		if jc.URL == "" && jc.Path == "" {
			continue
		}
		src, err := envelope.NewJWKSSource(jc, logger)
		if err != nil {
			return nil, err
		}
		if err := src.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("load trusted keys: %w", err)
		}
		sources = append(sources, src)
	}
	if len(f.KMSKeyIDs) > 0 {
		client, err := aws.KMS(ctx)
		if err != nil {
			return nil, err
		}
		src, err := envelope.NewKMSKeySource(client, envelope.KMSKeysConfig{KeyIDs: f.KMSKeyIDs}, logger)
		if err != nil {
			return nil, err
		}
		if err := src.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("load trusted KMS keys: %w", err)
		}
		sources = append(sources, src)
	}
	if len(sources) == 0 {
		return nil, errors.New("no trusted keys: set --jwks-url, --jwks-file or --kms-key-ids")
	}
	keys := sources[0]
	if len(sources) > 1 {
		keys = envelope.Combine(sources...)
	}
	return envelope.NewVerifier(envelope.Config{Audience: f.Audience, Issuers: f.Issuers, Leeway: f.Leeway, Keys: keys}, logger)
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
	format := c.Format
	if format == "auto" {
		format = "jwk"
		if strings.HasSuffix(strings.ToLower(c.Out), ".pem") {
			format = "pem"
		}
	}
	var priv []byte
	if format == "pem" {
		priv, err = s.MarshalPEM()
	} else {
		priv, err = s.MarshalJWK()
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(c.Out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create private key file (never overwritten): %w", err)
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pub, err := json.Marshal(s.PublicKey().JWK())
	if err != nil {
		return err
	}
	if c.JWKS != "" {
		if err := addToJWKS(c.JWKS, s.KeyID(), pub); err != nil {
			return err
		}
	}
	fmt.Println(string(pub))
	return nil
}

// addToJWKS appends a public JWK to a JWKS file, keeping existing entries
// as they are and refusing a duplicate kid.
func addToJWKS(path, kid string, jwk json.RawMessage) error {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &set); err != nil {
			return fmt.Errorf("%s is not a JWKS: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return err
	}
	for _, k := range set.Keys {
		var h struct {
			Kid string `json:"kid"`
		}
		if json.Unmarshal(k, &h) == nil && h.Kid == kid {
			return fmt.Errorf("%s already has kid %q", path, kid)
		}
	}
	set.Keys = append(set.Keys, jwk)
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	if _, _, err := envelope.ParseJWKS(out, envelope.JWKSLimits{}); err != nil {
		return fmt.Errorf("resulting JWKS would not load: %w", err)
	}
	return os.WriteFile(path, append(out, '\n'), 0o644) //nolint:gosec // a JWKS holds public keys only: it is meant to be published
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
	signer, err := c.Signer.Signer(ctx, c.AWS)
	if err != nil {
		return err
	}
	iss, err := c.Claims.NewIssuer(signer)
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
	v, err := c.Verify.Verifier(ctx, c.AWS, g.Logger())
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
	ctx := g.Context()
	var keys []envelope.PublicKey
	for _, f := range c.KeyFiles {
		s, err := envelope.LoadKeySigner(f, "")
		if err != nil {
			return err
		}
		keys = append(keys, s.PublicKey())
	}
	if len(c.KMSKeyIDs) > 0 {
		client, err := c.AWS.KMS(ctx)
		if err != nil {
			return err
		}
		for _, id := range c.KMSKeyIDs {
			s, err := envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: id})
			if err != nil {
				return err
			}
			pk, err := s.PublicKey(ctx)
			if err != nil {
				return err
			}
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		return errors.New("give --key-file and/or --kms-key-id")
	}
	ring, err := envelope.NewKeyRing(keys...)
	if err != nil {
		return err
	}
	out, err := ring.JWKS()
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
