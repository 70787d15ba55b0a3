// Package service assembles `tenantry worker` from its parts: the tenant
// gateway (with preflight), the SQS source, the document handler with its
// stages, the runner, and the ops server (/metrics, /healthz, /readyz). The
// command parses flags into a Config; end-to-end tests boot the same Run.
//
// It owns no logic of its own beyond wiring and start-up order: the worker is
// ready only after the database preflight passed.
package service
