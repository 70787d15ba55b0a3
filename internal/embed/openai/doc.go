// Package openai owns talking to any OpenAI-compatible embeddings endpoint
// (POST {base}/v1/embeddings: OpenAI, Azure-style gateways, Ollama, vLLM,
// Hugging Face TEI) with a small hand-written client: JSON in, float vectors
// out, the API key in a header, the optional "dimensions" parameter.
//
// It implements embed.Provider; wrap it with embed.New for batching,
// concurrency, retries and classification. It must never: put the API key,
// input text or response bodies into errors or logs, or follow a redirect
// to another host with the key.
package openai
