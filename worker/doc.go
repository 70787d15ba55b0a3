// Package worker is tenantry's message-processing runtime: it receives
// messages from a Source (SQS in production, an in-memory queue in tests),
// runs a Handler on each with bounded concurrency, keeps long-running
// messages invisible with heartbeats, and turns the handler's returned error
// into exactly one outcome:
//
//	nil                       → Ack (delete the message)
//	Permanent(err, reason)    → DeadLetter (copy to the DLQ with reason attributes, then delete)
//	RetryAfter(d, err)        → Nack(d) (visible again after d)
//	any other error, a panic  → Nack with exponential backoff and full jitter
//
// When a message has been received Config.MaxReceiveCount times and still
// fails, the runner dead-letters it itself (reason "max_receives"), so
// dead-lettering with reasons works even where the queue's redrive policy
// does not. On shutdown (the context given to Run is cancelled) the runner
// stops receiving, lets in-flight handlers finish within DrainTimeout, then
// cancels them and makes their messages visible again at once.
//
// An Admitter (Config.Admitter) may hold received messages before their
// handlers start — a message waiting for its key's turn costs no goroutine,
// only its slot and a place in one heartbeat loop — and start them later;
// the drain gives held messages back to the queue at once.
//
// Each handler runs with a context carrying a child zap logger (Logger) with
// message_id and receive_count; middleware adds fields (tenant_id, job_id)
// with WithLogFields, and those fields also appear on the single outcome
// line the runner logs at the boundary.
//
// What this package owns: delivery semantics (outcomes, retries, heartbeats,
// drain, metrics). What it must never do: know about documents, tenants or
// databases, log message bodies, or decide a tenant. Those belong to
// handlers and their middleware (the tenant wrapper verifies envelopes).
//
// Sources are held to one behaviour by the conformance suite in
// worker/sourcetest; worker/workertest has an in-memory Source.
package worker
