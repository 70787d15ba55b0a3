// Package retrieval owns tenant-correct search: it chooses a plan per tenant
// size (exact for small tenants and selective filters, HNSW with pgvector
// 0.8's iterative scans for large ones), compiles the metadata filter
// language (Bedrock Knowledge Bases' RetrievalFilter shape) into bound SQL
// parameters, and fuses vector and full-text rankings by reciprocal rank.
//
// Every query names the tenant as an explicit predicate beside row level
// security, so the planner sees the tenant's share of the table, and runs
// in a tenantdb.WithTenant transaction for a verified Scope.
//
// It must never mint a Scope, open a connection of its own, inline a
// filter's keys or values into SQL, or log query or document text.
package retrieval
