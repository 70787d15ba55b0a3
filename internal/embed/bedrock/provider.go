package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"github.com/tenantry/tenantry/internal/embed"
)

// Models this package knows.
const (
	TitanTextV2        = "amazon.titan-embed-text-v2:0"
	CohereEnglishV3    = "cohere.embed-english-v3"
	CohereMultilingual = "cohere.embed-multilingual-v3"
)

// InvokeModelAPI is the one bedrockruntime call the provider makes.
type InvokeModelAPI interface {
	InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error)
}

// Config chooses the model.
type Config struct {
	// Model is a model id (or an inference profile / ARN of one of the
	// known models: the family is taken from the id's text).
	Model string
	// Dimensions: Titan v2 256, 512 or 1024 (default 1024); Cohere v3 1024.
	Dimensions int
	// DontNormalize asks Titan for raw vectors instead of unit vectors
	// (normalize: false).
	DontNormalize bool
	// InputType is Cohere's input_type: "search_document" (default, for
	// chunks) or "search_query" (for queries).
	InputType string
	// Truncate is Cohere's truncate: "END" (default), "START" or "NONE".
	Truncate string
}

type family int

const (
	titan family = iota + 1
	cohere
)

// Provider is an embed.Provider for Bedrock.
type Provider struct {
	api    InvokeModelAPI
	cfg    Config
	family family
}

var _ embed.Provider = (*Provider)(nil)

// New returns a Provider calling api (a *bedrockruntime.Client).
func New(api InvokeModelAPI, cfg Config) (*Provider, error) {
	if api == nil {
		return nil, errors.New("bedrock: nil client")
	}
	p := &Provider{api: api, cfg: cfg}
	id := strings.ToLower(cfg.Model)
	switch {
	case strings.Contains(id, "titan-embed-text-v2"):
		p.family = titan
		if p.cfg.Dimensions == 0 {
			p.cfg.Dimensions = 1024
		}
		if d := p.cfg.Dimensions; d != 256 && d != 512 && d != 1024 {
			return nil, fmt.Errorf("bedrock: Titan v2 dimension %d not in 256, 512, 1024", d)
		}
	case strings.Contains(id, "cohere.embed-english-v3"), strings.Contains(id, "cohere.embed-multilingual-v3"):
		p.family = cohere
		if p.cfg.Dimensions == 0 {
			p.cfg.Dimensions = 1024
		}
		if p.cfg.Dimensions != 1024 {
			return nil, fmt.Errorf("bedrock: Cohere v3 dimension is 1024, not %d", p.cfg.Dimensions)
		}
		if p.cfg.InputType == "" {
			p.cfg.InputType = "search_document"
		}
		if p.cfg.Truncate == "" {
			p.cfg.Truncate = "END"
		}
		switch p.cfg.InputType {
		case "search_document", "search_query", "classification", "clustering":
		default:
			return nil, fmt.Errorf("bedrock: unknown Cohere input type %q", p.cfg.InputType)
		}
	default:
		return nil, fmt.Errorf("bedrock: unsupported embedding model %q", cfg.Model)
	}
	return p, nil
}

// Model returns the model id.
func (p *Provider) Model() string { return p.cfg.Model }

// Dimensions returns the vector dimension.
func (p *Provider) Dimensions() int { return p.cfg.Dimensions }

// Limits: Titan v2 takes one text per call (up to 8192 tokens); Cohere v3
// up to 96 texts of at most 2048 characters (longer ones are truncated by
// the model, per Truncate).
func (p *Provider) Limits() embed.Limits {
	if p.family == titan {
		return embed.Limits{MaxInputs: 1}
	}
	return embed.Limits{MaxInputs: 96}
}

type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions"`
	Normalize  bool   `json:"normalize"`
}

type titanResponse struct {
	Embedding []float32 `json:"embedding"`
}

type cohereRequest struct {
	Texts     []string `json:"texts"`
	InputType string   `json:"input_type"`
	Truncate  string   `json:"truncate,omitempty"`
}

type cohereResponse struct {
	Embeddings json.RawMessage `json:"embeddings"`
}

// EmbedBatch sends one InvokeModel call (Titan: per text).
func (p *Provider) EmbedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	if p.family == titan {
		out := make([][]float32, len(texts))
		for i, t := range texts {
			body, err := json.Marshal(titanRequest{InputText: t, Dimensions: p.cfg.Dimensions, Normalize: !p.cfg.DontNormalize})
			if err != nil {
				return nil, fmt.Errorf("bedrock: encode request: %w", err)
			}
			raw, err := p.invoke(ctx, body)
			if err != nil {
				return nil, err
			}
			var r titanResponse
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, embed.BadResponse("undecodable Titan response")
			}
			out[i] = r.Embedding
		}
		return out, nil
	}
	body, err := json.Marshal(cohereRequest{Texts: texts, InputType: p.cfg.InputType, Truncate: p.cfg.Truncate})
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode request: %w", err)
	}
	raw, err := p.invoke(ctx, body)
	if err != nil {
		return nil, err
	}
	var r cohereResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, embed.BadResponse("undecodable Cohere response")
	}
	// "embeddings" is a list of vectors, or {"float": [...]} when
	// embedding types were requested.
	var vecs [][]float32
	if err := json.Unmarshal(r.Embeddings, &vecs); err != nil {
		var byType struct {
			Float [][]float32 `json:"float"`
		}
		if err := json.Unmarshal(r.Embeddings, &byType); err != nil || byType.Float == nil {
			return nil, embed.BadResponse("undecodable Cohere embeddings")
		}
		vecs = byType.Float
	}
	return vecs, nil
}

func (p *Provider) invoke(ctx context.Context, body []byte) ([]byte, error) {
	out, err := p.api.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String(p.cfg.Model),
		Body:        body,
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	}, func(o *bedrockruntime.Options) {
		// embed retries and paces; the SDK must not retry (or rate-limit
		// its retries) underneath.
		o.Retryer = aws.NopRetryer{}
	})
	if err != nil {
		return nil, statusError(err)
	}
	return out.Body, nil
}

// statusError turns an SDK failure with an HTTP answer into
// *embed.StatusError (kept wrapped), leaving transport errors as they are.
func statusError(err error) error {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil || re.HTTPStatusCode() < 300 {
		// No failure status: a transport failure, the attempt's deadline,
		// or a success answer whose body could not be read.
		return fmt.Errorf("bedrock: %w", err)
	}
	se := &embed.StatusError{Status: re.HTTPStatusCode(), RetryAfter: embed.ParseRetryAfter(re.Response.Header, time.Now())}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		se.Code = ae.ErrorCode()
	}
	return se
}
