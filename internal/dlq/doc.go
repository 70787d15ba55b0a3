// Package dlq inspects and replays tenantry's dead-letter queues.
//
// An Inspector lists what a DLQ holds without consuming it: it receives with
// a short visibility timeout and makes every message visible again at once,
// deduplicating by message id across receives. For each message it reports
// the tenant from the message's verified envelope (never from a payload
// field or key path), the dead-letter reason and stage the worker attached,
// receive count, age and how often it was replayed before.
//
// A Replayer moves selected messages (by tenant, reason, stage, age, id)
// back to their source queue: it re-verifies each envelope first (expired,
// forged or otherwise invalid ones stay in the DLQ and are reported), paces
// sends with a rate limit, audits every replay in the tenant's own chain
// (through tenantdb.WithTenant with the scope minted by the verifier), sends
// before it deletes (an interruption duplicates at most, never loses), and
// carries a bounded replay history on the message so a replay loop is visible
// and stops at MaxReplays. A Redriver wraps SQS's own unfiltered message-move
// tasks where the server supports them.
//
// What this package owns: reading DLQ messages, the dead-letter attribute
// view (see worker.ParseDeadLetterInfo), the replay history attribute, and
// the replay protocol. What it must never do: decide a tenant without a
// verified envelope, re-sign or alter an envelope or a message body, delete
// a DLQ message before its copy was sent, log or return message bodies,
// tokens or receipt handles, or reach Postgres other than through the tenant
// gateway.
package dlq
