package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantry/tenantry/internal/embed"
)

// Config names the endpoint and model.
type Config struct {
	// BaseURL is the server root, with or without a trailing /v1
	// (https://api.openai.com, http://127.0.0.1:11434 for Ollama, ...).
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>" (empty: no header).
	APIKey string
	// APIKeyHeader sends the key raw in this header instead (e.g. "api-key"
	// for Azure OpenAI).
	APIKeyHeader string
	// Model is the model name the server knows (e.g. text-embedding-3-small,
	// nomic-embed-text).
	Model string
	// Dimensions is the vector dimension the model returns (required: it
	// must match the schema).
	Dimensions int
	// SendDimensions sends "dimensions" in each request, asking models that
	// support shortening (text-embedding-3-*) for Dimensions.
	SendDimensions bool
	// MaxInputs bounds texts per request (default 256; OpenAI accepts up to
	// 2048, TEI's default is 32).
	MaxInputs int
	// MaxTokens bounds estimated tokens per request (default 250000; OpenAI
	// refuses more than 300000).
	MaxTokens int
	// HTTPClient sends the requests (default: a client with a 60 s timeout
	// that refuses redirects).
	HTTPClient *http.Client
}

// Client is an embed.Provider for an OpenAI-compatible endpoint.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
}

var _ embed.Provider = (*Client)(nil)

// New returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("openai: BaseURL must be an http(s) URL")
	}
	if cfg.Model == "" || cfg.Dimensions < 1 {
		return nil, errors.New("openai: Model and Dimensions are required")
	}
	if cfg.MaxInputs == 0 {
		cfg.MaxInputs = 256
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 250000
	}
	if cfg.MaxInputs < 1 || cfg.MaxTokens < 1 {
		return nil, errors.New("openai: MaxInputs and MaxTokens must be positive")
	}
	if !strings.HasSuffix(u.Path, "/v1") {
		u.Path += "/v1"
	}
	u.Path += "/embeddings"
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{
			Timeout:       60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{cfg: cfg, endpoint: u.String(), http: hc}, nil
}

// Model returns the model name.
func (c *Client) Model() string { return c.cfg.Model }

// Dimensions returns the vector dimension.
func (c *Client) Dimensions() int { return c.cfg.Dimensions }

// Limits returns the per-request limits.
func (c *Client) Limits() embed.Limits {
	return embed.Limits{MaxInputs: c.cfg.MaxInputs, MaxTokens: c.cfg.MaxTokens}
}

type request struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type response struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

type errorBody struct {
	Error struct {
		Type string `json:"type"`
		Code any    `json:"code"`
	} `json:"error"`
}

// EmbedBatch sends one request.
func (c *Client) EmbedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body := request{Model: c.cfg.Model, Input: texts, EncodingFormat: "float"}
	if c.cfg.SendDimensions {
		body.Dimensions = c.cfg.Dimensions
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("openai: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	switch {
	case c.cfg.APIKey == "":
	case c.cfg.APIKeyHeader != "":
		req.Header.Set(c.cfg.APIKeyHeader, c.cfg.APIKey)
	default:
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &embed.StatusError{Status: resp.StatusCode, RetryAfter: embed.ParseRetryAfter(resp.Header, time.Now())}
		var eb errorBody
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil {
			se.Code = eb.Error.Type
			if s, ok := eb.Error.Code.(string); ok && s != "" {
				se.Code = s
			}
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil, se
	}
	// A float prints in at most ~25 bytes: bound what we read. A body cut
	// short by the network is retried; a complete one that does not parse
	// is a bad response.
	limit := int64(len(texts))*int64(c.cfg.Dimensions)*25 + 1<<20
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("openai: read response: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, embed.BadResponse("response too large")
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, embed.BadResponse("undecodable JSON")
	}
	out := make([][]float32, len(texts))
	for i, d := range r.Data {
		idx := i
		if d.Index != nil {
			idx = *d.Index
		}
		if idx < 0 || idx >= len(out) || out[idx] != nil {
			return nil, embed.BadResponse("vector index out of range or repeated")
		}
		out[idx] = d.Embedding
	}
	if len(r.Data) != len(texts) {
		return nil, embed.BadResponse(fmt.Sprintf("%d vectors for %d inputs", len(r.Data), len(texts)))
	}
	return out, nil
}
