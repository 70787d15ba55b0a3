package main

import (
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/output"
	"github.com/tenantry/tenantry/internal/service"
)

// Flag groups shared by several subcommands. Each maps to a settings struct
// of internal/service, which builds the clients, keys and stages.
//
// Conventions (a new subcommand adopts them by embedding these groups):
//   - one name per concept: a flag has the same name and environment
//     variable in every subcommand (TestOneNamePerConcept); an old name is
//     kept as a hidden alias (`aliases:"old"`), which still works and
//     prints a deprecation warning;
//   - a subcommand embeds only the groups it uses (AWSFlags plus the
//     endpoint of each AWS service it calls);
//   - results go through OutputFlags (--output table|json, snake_case
//     JSON); errors are classified by internal/exitcode.

// AWSFlags follow the AWS CLI: region, profile and credentials come from
// the default chain unless given; --endpoint-url overrides every service.
type AWSFlags struct {
	Region      string `name:"region" help:"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region)."`
	Profile     string `name:"profile" help:"Named profile of the shared AWS config and credentials files (default: AWS_PROFILE, then default)."`
	EndpointURL string `name:"endpoint-url" help:"Endpoint of every AWS service, as the AWS CLI's --endpoint-url (AWS_ENDPOINT_URL is read too); a per-service endpoint overrides it."`
}

// Per-service endpoint overrides (the local stack sets them). A
// subcommand embeds the ones of the services it calls.
type (
	S3Endpoint struct {
		S3Endpoint string `name:"s3-endpoint" env:"TENANTRY_S3_ENDPOINT" help:"S3 endpoint override (path-style), e.g. the local versitygw."`
	}
	SQSEndpoint struct {
		SQSEndpoint string `name:"sqs-endpoint" env:"TENANTRY_SQS_ENDPOINT" help:"SQS endpoint override, e.g. the local fauxqs."`
	}
	SFNEndpoint struct {
		SFNEndpoint string `name:"sfn-endpoint" env:"TENANTRY_SFN_ENDPOINT" help:"Step Functions endpoint override."`
	}
	KMSEndpoint struct {
		KMSEndpoint string `name:"kms-endpoint" env:"TENANTRY_KMS_ENDPOINT" help:"KMS endpoint override."`
	}
)

type endpointFlag interface{ apply(*service.AWS) }

func (e S3Endpoint) apply(a *service.AWS)  { a.S3Endpoint = e.S3Endpoint }
func (e SQSEndpoint) apply(a *service.AWS) { a.SQSEndpoint = e.SQSEndpoint }
func (e SFNEndpoint) apply(a *service.AWS) { a.SFNEndpoint = e.SFNEndpoint }
func (e KMSEndpoint) apply(a *service.AWS) { a.KMSEndpoint = e.KMSEndpoint }

// settings returns the AWS settings with the given service endpoints.
func (f AWSFlags) settings(endpoints ...endpointFlag) service.AWS {
	a := service.AWS{Region: f.Region, Profile: f.Profile, EndpointURL: f.EndpointURL}
	for _, e := range endpoints {
		e.apply(&a)
	}
	return a
}

// OutputFlags choose how results print (internal/output).
type OutputFlags struct {
	Output string `name:"output" short:"o" env:"TENANTRY_OUTPUT" enum:"table,json" default:"table" help:"Output format: table (for people) or json (snake_case; JSON lines for lists). --json is a deprecated spelling of --output json."`
}

func (f OutputFlags) format() output.Format { return output.Format(f.Output) }

// JSONOutputFlags are OutputFlags for commands whose natural result is a
// JSON document (a presigned upload, a verdict).
type JSONOutputFlags struct {
	Output string `name:"output" short:"o" enum:"table,json" default:"json" help:"Output format: json (snake_case) or table."`
}

func (f JSONOutputFlags) format() output.Format { return output.Format(f.Output) }

// EmbedFlags choose and configure the embedding provider.
type EmbedFlags struct {
	Provider    string `name:"embed-provider" env:"TENANTRY_EMBED_PROVIDER" enum:"offline,openai,bedrock-titan,bedrock-cohere" default:"offline" help:"Embedding provider: offline (lexical hashing, no download, not semantic), openai (any OpenAI-compatible /v1/embeddings: OpenAI, Ollama, vLLM, TEI), bedrock-titan, bedrock-cohere."`
	Dims        int    `name:"embed-dims" env:"TENANTRY_EMBEDDING_DIMS" default:"1024" help:"Vector dimension (must match the migrated schema)."`
	Model       string `name:"embed-model" env:"TENANTRY_EMBED_MODEL" help:"Model id (openai: e.g. text-embedding-3-small; bedrock: default amazon.titan-embed-text-v2:0 / cohere.embed-multilingual-v3)."`
	BaseURL     string `name:"embed-base-url" env:"TENANTRY_OPENAI_BASE_URL" help:"OpenAI-compatible server root (openai provider)."`
	APIKeyEnv   string `name:"embed-api-key-env" default:"TENANTRY_OPENAI_API_KEY" help:"Name of the environment variable holding the OpenAI-compatible API key (never a flag value)."`
	SendDims    bool   `name:"embed-send-dims" env:"TENANTRY_OPENAI_SEND_DIMENSIONS" help:"Send \"dimensions\" (models that can shorten vectors, e.g. text-embedding-3-*)."`
	Adaptive    bool   `name:"embed-adaptive" env:"TENANTRY_EMBED_ADAPTIVE" default:"true" negatable:"" help:"Adapt request rate to the provider's quota (AIMD on 429/Retry-After); else a fixed concurrency."`
	Concurrency int    `name:"embed-concurrency" env:"TENANTRY_EMBED_CONCURRENCY" default:"4" help:"Requests in flight when --no-embed-adaptive."`
}

func (f EmbedFlags) settings() service.Embedding {
	return service.Embedding{Provider: f.Provider, Dims: f.Dims, Model: f.Model, BaseURL: f.BaseURL, APIKey: os.Getenv(f.APIKeyEnv),
		SendDims: f.SendDims, Adaptive: f.Adaptive, Concurrency: f.Concurrency}
}

// EnvelopeVerifierFlags say which envelopes are trusted: the worker, the
// DLQ tools, search, sfn and `envelope verify` share them.
type EnvelopeVerifierFlags struct {
	Audience  string        `name:"envelope-audience" aliases:"audience" env:"TENANTRY_ENVELOPE_AUDIENCE" default:"tenantry" help:"Required aud."`
	Issuers   []string      `name:"envelope-issuer" aliases:"issuer" env:"TENANTRY_ENVELOPE_ISSUERS" required:"" help:"Trusted iss values (repeat or comma-separate)."`
	JWKSURL   string        `name:"envelope-jwks-url" aliases:"jwks-url" env:"TENANTRY_ENVELOPE_JWKS_URL" help:"JWKS URL of trusted keys (https; http only for loopback)."`
	JWKSFile  string        `name:"envelope-jwks-file" aliases:"jwks-file" env:"TENANTRY_ENVELOPE_JWKS_FILE" help:"JWKS file of trusted keys (re-read every few minutes)."`
	KMSKeyIDs []string      `name:"envelope-kms-key-ids" aliases:"kms-key-ids" env:"TENANTRY_ENVELOPE_KMS_KEY_IDS" help:"Trusted KMS signing keys (ids, ARNs, aliases)."`
	Leeway    time.Duration `name:"envelope-leeway" aliases:"leeway" env:"TENANTRY_ENVELOPE_LEEWAY" default:"30s" help:"Clock skew allowance."`
}

func (f EnvelopeVerifierFlags) trust() service.Trust { return service.Trust(f) }

// EnvelopeSignerFlags choose the signing key: a local file or a KMS key.
type EnvelopeSignerFlags struct {
	KeyFile  string `name:"envelope-key-file" aliases:"key-file" env:"TENANTRY_ENVELOPE_KEY_FILE" help:"Private key file (PKCS#8/SEC1 PEM or private JWK)." type:"existingfile"`
	KID      string `name:"envelope-kid" aliases:"kid" env:"TENANTRY_ENVELOPE_KID" help:"kid to write (default: the JWK's kid, else the key thumbprint)."`
	KMSKeyID string `name:"envelope-kms-key-id" aliases:"kms-key-id" env:"TENANTRY_ENVELOPE_KMS_KEY_ID" help:"KMS key id, ARN or alias to sign with (instead of --envelope-key-file)."`
}

func (f EnvelopeSignerFlags) signing() service.Signing { return service.Signing(f) }

// EnvelopeIssuerFlags are the routine claims a producer writes.
type EnvelopeIssuerFlags struct {
	Issuer   string        `name:"envelope-issuer" aliases:"issuer" env:"TENANTRY_ENVELOPE_ISSUER" required:"" help:"iss claim: who signs (your backend)."`
	Audience string        `name:"envelope-audience" aliases:"audience" env:"TENANTRY_ENVELOPE_AUDIENCE" default:"tenantry" help:"aud claim."`
	TTL      time.Duration `name:"envelope-ttl" aliases:"ttl" env:"TENANTRY_ENVELOPE_TTL" default:"24h" help:"Envelope lifetime (must cover queue wait and retries)."`
}

func (f EnvelopeIssuerFlags) config() envelope.IssuerConfig {
	return envelope.IssuerConfig{Issuer: f.Issuer, Audience: f.Audience, TTL: f.TTL}
}

// parseTenants reads tenant ids: canonical UUIDs (upper case is folded),
// never the nil UUID. A bad id is a usage error.
func parseTenants(in ...string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(in))
	for _, s := range in {
		id, err := uuid.Parse(s)
		if err != nil || id.String() != strings.ToLower(s) || id == uuid.Nil {
			return nil, exitcode.Usagef("tenant %q is not a tenant id (canonical UUID)", s)
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
