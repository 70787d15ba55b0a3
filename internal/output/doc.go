// Package output owns how the tenantry command prints results: the
// --output formats (table for people, json for scripts), JSON with
// snake_case keys and no HTML escaping, and a key/value table for single
// results.
//
// It must never decide what a command prints, only how.
package output
