// Package usage records each tenant's embedding provider usage — requests,
// estimated tokens and provider throttles (429s) per minute — durably, for
// the operator console.
//
// It owns the in-memory tally (Meter: Add is a map update under a mutex,
// never a database write), its batched flush (one scoped transaction per
// tenant, upserting every pending minute of that tenant into the
// provider_usage table, migration 0012) and the per-call throttle counter
// an embedder bumps through the context (WithCall, Throttled).
//
// It must never write outside a verified tenant scope (a tally carries the
// scope the dispatcher got from the gate), never write on the request path,
// and never record anything of a request but counts (no text, no model
// output).
package usage
