package service

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/adaptive"
	"github.com/tenantry/tenantry/internal/embed/bedrock"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/embed/openai"
	"github.com/tenantry/tenantry/pipeline"
)

// Embedding chooses and configures the embedding provider.
type Embedding struct {
	// Provider: offline (default), openai, bedrock-titan, bedrock-cohere.
	Provider string
	Dims     int // default 1024
	Model    string
	// BaseURL and APIKey configure the openai provider (the key's value,
	// read by the command from the environment, never a flag).
	BaseURL  string
	APIKey   string
	SendDims bool
	// Adaptive adapts the request rate to the provider's quota (AIMD);
	// otherwise Concurrency requests are in flight at most.
	Adaptive    bool
	Concurrency int
}

var bedrockModels = map[string]string{"bedrock-titan": "amazon.titan-embed-text-v2:0", "bedrock-cohere": "cohere.embed-multilingual-v3"}

// Embedder builds the configured embedder. Remote providers are wrapped in
// embed.New: batching, retries with backoff honouring Retry-After, per-call
// timeouts, and (if Adaptive) a rate limiter shared by all calls.
func (e Embedding) Embedder(ctx context.Context, a AWS, logger *zap.Logger) (pipeline.Embedder, error) {
	return e.embedder(ctx, a, logger, nil)
}

// embedder is Embedder with the provider's metrics registered on reg (nil:
// not counted).
func (e Embedding) embedder(ctx context.Context, a AWS, logger *zap.Logger, reg prometheus.Registerer) (pipeline.Embedder, error) {
	dims := e.Dims
	if dims == 0 {
		dims = 1024
	}
	var p embed.Provider
	switch e.Provider {
	case "", "offline":
		return offline.New(offline.Config{Dims: dims})
	case "openai":
		c, err := openai.New(openai.Config{BaseURL: e.BaseURL, APIKey: e.APIKey, Model: e.Model, Dimensions: dims, SendDimensions: e.SendDims})
		if err != nil {
			return nil, err
		}
		p = c
	case "bedrock-titan", "bedrock-cohere":
		model := e.Model
		if model == "" {
			model = bedrockModels[e.Provider]
		}
		client, err := a.bedrock(ctx)
		if err != nil {
			return nil, err
		}
		b, err := bedrock.New(client, bedrock.Config{Model: model, Dimensions: dims})
		if err != nil {
			return nil, err
		}
		p = b
	default:
		return nil, fmt.Errorf("unknown embedding provider %q", e.Provider)
	}
	counter, err := chunk.NewCounter()
	if err != nil {
		return nil, err
	}
	ecfg := embed.Config{CountTokens: counter.Count, Concurrency: e.Concurrency}
	if reg != nil {
		ecfg.Metrics = embed.NewMetrics(reg)
	}
	if e.Adaptive {
		lim, err := adaptive.New(adaptive.Config{})
		if err != nil {
			return nil, err
		}
		ecfg.Limiter = lim
	}
	return embed.New(p, ecfg, logger)
}
