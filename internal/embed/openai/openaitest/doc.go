// Package openaitest is a fake OpenAI-compatible embeddings server for
// tests, benchmarks and chaos runs: the real wire format (POST
// /v1/embeddings), a token-bucket request quota answering 429 with
// Retry-After and retry-after-ms beyond it, a fixed latency, and scripted
// faults (any status, malformed bodies, wrong vector counts or dimensions,
// stalls). Vectors are deterministic (Vector).
//
// It must never listen beyond loopback or be used outside tests.
package openaitest
