package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/adaptive"
	"github.com/tenantry/tenantry/internal/embed/bedrock"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/embed/openai"
	"github.com/tenantry/tenantry/pipeline"
	"go.uber.org/zap"
)

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

// Embedder builds the configured embedder. Remote providers are wrapped in
// embed.New: batching, retries with backoff honouring Retry-After, per-call
// timeouts, and (default) an adaptive rate limiter shared by all calls.
func (f EmbedFlags) Embedder(ctx context.Context, a AWSFlags, logger *zap.Logger) (pipeline.Embedder, error) {
	var p embed.Provider
	switch f.Provider {
	case "offline":
		return offline.New(offline.Config{Dims: f.Dims})
	case "openai":
		c, err := openai.New(openai.Config{BaseURL: f.BaseURL, APIKey: os.Getenv(f.APIKeyEnv), Model: f.Model,
			Dimensions: f.Dims, SendDimensions: f.SendDims})
		if err != nil {
			return nil, err
		}
		p = c
	case "bedrock-titan", "bedrock-cohere":
		model := f.Model
		if model == "" {
			model = map[string]string{"bedrock-titan": "amazon.titan-embed-text-v2:0", "bedrock-cohere": "cohere.embed-multilingual-v3"}[f.Provider]
		}
		cfg, err := a.config(ctx)
		if err != nil {
			return nil, err
		}
		b, err := bedrock.New(bedrockruntime.NewFromConfig(cfg), bedrock.Config{Model: model, Dimensions: f.Dims})
		if err != nil {
			return nil, err
		}
		p = b
	default:
		return nil, fmt.Errorf("unknown embedding provider %q", f.Provider)
	}
	counter, err := chunk.NewCounter()
	if err != nil {
		return nil, err
	}
	ecfg := embed.Config{CountTokens: counter.Count, Concurrency: f.Concurrency}
	if f.Adaptive {
		lim, err := adaptive.New(adaptive.Config{})
		if err != nil {
			return nil, err
		}
		ecfg.Limiter = lim
	}
	return embed.New(p, ecfg, logger)
}

// pipelineClients builds what every command that runs the pipeline needs:
// S3, SQS and the configured embedder.
func pipelineClients(ctx context.Context, a AWSFlags, e EmbedFlags, logger *zap.Logger) (*s3.Client, *sqs.Client, pipeline.Embedder, error) {
	s3c, err := a.S3(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	sqsc, err := a.SQS(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	emb, err := e.Embedder(ctx, a, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return s3c, sqsc, emb, nil
}
