package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/service"
)

// Flag groups shared by several subcommands. Each maps to a settings struct
// of internal/service, which builds the clients, keys and stages.

// AWSFlags configure the AWS clients. Endpoints are empty on AWS; the local
// stack sets them to its 127.0.0.1 servers (see `deploy/local/stack.sh env`).
type AWSFlags struct {
	Region      string `name:"region" env:"AWS_REGION" default:"us-east-1" help:"AWS region."`
	S3Endpoint  string `name:"s3-endpoint" env:"TENANTRY_S3_ENDPOINT" help:"S3 endpoint override (path-style), e.g. the local versitygw."`
	SQSEndpoint string `name:"sqs-endpoint" env:"TENANTRY_SQS_ENDPOINT" help:"SQS endpoint override, e.g. the local fauxqs."`
	SFNEndpoint string `name:"sfn-endpoint" env:"TENANTRY_SFN_ENDPOINT" help:"Step Functions endpoint override."`
	KMSEndpoint string `name:"kms-endpoint" env:"TENANTRY_KMS_ENDPOINT" help:"KMS endpoint override."`
}

func (f AWSFlags) settings() service.AWS { return service.AWS(f) }

// EmbedFlags choose and configure the embedding provider.
type EmbedFlags struct {
	Provider    string `name:"provider" env:"TENANTRY_EMBED_PROVIDER" enum:"offline,openai,bedrock-titan,bedrock-cohere" default:"offline" help:"Embedding provider: offline (lexical hashing, no download, not semantic), openai (any OpenAI-compatible /v1/embeddings: OpenAI, Ollama, vLLM, TEI), bedrock-titan, bedrock-cohere."`
	Dims        int    `name:"dims" env:"TENANTRY_EMBEDDING_DIMS" default:"1024" help:"Vector dimension (must match the migrated schema)."`
	Model       string `name:"model" env:"TENANTRY_EMBED_MODEL" help:"Model id (openai: e.g. text-embedding-3-small; bedrock: default amazon.titan-embed-text-v2:0 / cohere.embed-multilingual-v3)."`
	BaseURL     string `name:"base-url" env:"TENANTRY_OPENAI_BASE_URL" help:"OpenAI-compatible server root (openai provider)."`
	APIKeyEnv   string `name:"api-key-env" default:"TENANTRY_OPENAI_API_KEY" help:"Name of the environment variable holding the OpenAI-compatible API key (never a flag value)."`
	SendDims    bool   `name:"send-dims" env:"TENANTRY_OPENAI_SEND_DIMENSIONS" help:"Send \"dimensions\" (models that can shorten vectors, e.g. text-embedding-3-*)."`
	Adaptive    bool   `name:"adaptive" env:"TENANTRY_EMBED_ADAPTIVE" default:"true" negatable:"" help:"Adapt request rate to the provider's quota (AIMD on 429/Retry-After); else a fixed concurrency."`
	Concurrency int    `name:"concurrency" env:"TENANTRY_EMBED_CONCURRENCY" default:"4" help:"Requests in flight when --no-embed-adaptive."`
}

func (f EmbedFlags) settings() service.Embedding {
	return service.Embedding{Provider: f.Provider, Dims: f.Dims, Model: f.Model, BaseURL: f.BaseURL, APIKey: os.Getenv(f.APIKeyEnv),
		SendDims: f.SendDims, Adaptive: f.Adaptive, Concurrency: f.Concurrency}
}

// EnvelopeVerifierFlags say which envelopes are trusted: the worker, the
// DLQ tools, search and `envelope verify` share them.
type EnvelopeVerifierFlags struct {
	Audience  string        `name:"audience" env:"TENANTRY_ENVELOPE_AUDIENCE" default:"tenantry" help:"Required aud."`
	Issuers   []string      `name:"issuer" env:"TENANTRY_ENVELOPE_ISSUERS" required:"" help:"Trusted iss values (repeat or comma-separate)."`
	JWKSURL   string        `name:"jwks-url" env:"TENANTRY_ENVELOPE_JWKS_URL" help:"JWKS URL of trusted keys (https; http only for loopback)."`
	JWKSFile  string        `name:"jwks-file" env:"TENANTRY_ENVELOPE_JWKS_FILE" help:"JWKS file of trusted keys (re-read every few minutes)."`
	KMSKeyIDs []string      `name:"kms-key-ids" env:"TENANTRY_ENVELOPE_KMS_KEY_IDS" help:"Trusted KMS signing keys (ids, ARNs, aliases)."`
	Leeway    time.Duration `name:"leeway" env:"TENANTRY_ENVELOPE_LEEWAY" default:"30s" help:"Clock skew allowance."`
}

func (f EnvelopeVerifierFlags) trust() service.Trust { return service.Trust(f) }

// EnvelopeSignerFlags choose the signing key: a local file or a KMS key.
type EnvelopeSignerFlags struct {
	KeyFile  string `name:"key-file" env:"TENANTRY_ENVELOPE_KEY_FILE" help:"Private key file (PKCS#8/SEC1 PEM or private JWK)." type:"existingfile"`
	KID      string `name:"kid" env:"TENANTRY_ENVELOPE_KID" help:"kid to write (default: the JWK's kid, else the key thumbprint)."`
	KMSKeyID string `name:"kms-key-id" env:"TENANTRY_ENVELOPE_KMS_KEY_ID" help:"KMS key id, ARN or alias to sign with (instead of --key-file)."`
}

func (f EnvelopeSignerFlags) signing() service.Signing { return service.Signing(f) }

// EnvelopeIssuerFlags are the routine claims a producer writes.
type EnvelopeIssuerFlags struct {
	Issuer   string        `name:"issuer" env:"TENANTRY_ENVELOPE_ISSUER" required:"" help:"iss claim: who signs (your backend)."`
	Audience string        `name:"audience" env:"TENANTRY_ENVELOPE_AUDIENCE" default:"tenantry" help:"aud claim."`
	TTL      time.Duration `name:"ttl" env:"TENANTRY_ENVELOPE_TTL" default:"24h" help:"Envelope lifetime (must cover queue wait and retries)."`
}

func (f EnvelopeIssuerFlags) config() envelope.IssuerConfig {
	return envelope.IssuerConfig{Issuer: f.Issuer, Audience: f.Audience, TTL: f.TTL}
}

// parseTenants reads tenant ids: canonical UUIDs (upper case is folded),
// never the nil UUID.
func parseTenants(in ...string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(in))
	for _, s := range in {
		id, err := uuid.Parse(s)
		if err != nil || id.String() != strings.ToLower(s) || id == uuid.Nil {
			return nil, fmt.Errorf("tenant %q is not a tenant id (canonical UUID)", s)
		}
		out = append(out, id)
	}
	return out, nil
}

func parseTenant(s string) (uuid.UUID, error) {
	ids, err := parseTenants(s)
	if err != nil {
		return uuid.Nil, err
	}
	return ids[0], nil
}
