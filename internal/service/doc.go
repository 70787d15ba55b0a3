// Package service is the composition root: every command of cmd/tenantry
// parses flags and environment into settings (Config, AWS, Trust,
// Embedding, Signing, SearchConfig, DLQSource) and makes one call here;
// this package builds every dependency from them — AWS clients, the
// verifier and its key sources, the embedder stack, the tenant gateway (with
// preflight), the stages, the gate (internal/binding), the SQS source, the
// runner and the ops server (/metrics, /healthz, /readyz). End-to-end tests
// boot the same Run, injecting fakes through Deps.
//
// It owns no logic of its own beyond wiring and start-up order: the worker
// is ready only after the database preflight passed. It never verifies an
// envelope itself; tenants are established only by internal/binding.
package service
