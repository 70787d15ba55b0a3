// Package migrations owns tenantry's database schema: SQL files embedded in
// the binary and a small runner that applies them in order, as the OWNER role,
// under an advisory lock, each in its own transaction, recording a checksum.
//
// Why not a migration library: the schema is rendered from a template (the
// embedding dimension and the worker role's name are chosen at migrate time),
// the worker role's password must be set without ever being logged, and the
// runner is ~150 lines on pgx, which we already use. It must never run with the
// worker's credentials and never be reachable from job code.
package migrations
