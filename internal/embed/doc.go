// Package embed owns calling embedding providers (pipeline.Embedder):
// splitting texts into requests a provider accepts (inputs and tokens per
// request), bounding and adapting how many run at once (package adaptive),
// retrying throttling, 5xx and timeouts with exponential backoff, full jitter
// and Retry-After, a timeout per attempt, validating every answer (one
// vector per input, the declared dimension, finite values) and classifying
// failures: exhausted throttling/5xx/timeouts are pipeline.TransientError
// (retry the message later), any other 4xx is pipeline.ErrRejected
// (permanent), the caller's cancellation is returned as is.
//
// Providers live in subpackages and implement Provider: offline (a
// deterministic lexical embedder, no network), openai (any OpenAI-compatible
// /v1/embeddings endpoint) and bedrock (Titan Text Embeddings v2 and Cohere
// embed through aws-sdk-go-v2). Package fair schedules embedding work
// round-robin across tenants.
//
// It must never: log or return input text or provider response bodies in
// errors, retry a request the provider refused as invalid, or sleep past the
// caller's context.
package embed
