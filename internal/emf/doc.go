// Package emf owns getting tenantry's Prometheus metrics into Amazon
// CloudWatch without an agent: at an interval it writes each metric family
// of the registry (tenantry_* only) as CloudWatch embedded metric format
// (EMF) JSON lines to the process output, which the awslogs driver (ECS) or
// the Lambda runtime ships to CloudWatch Logs, where they become metrics.
//
// Counters are written as their increase since the previous line, gauges as
// their value, histograms as the increase of their count and sum. Labels
// become dimensions; tenantry's metric labels never carry document data,
// and a tenant id only as the breaker's per-tenant tenant_id label
// (internal/breaker); this package must not add any.
package emf
