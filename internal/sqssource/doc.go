// Package sqssource implements worker.Source on Amazon SQS (standard or FIFO
// queues) through a narrow client interface (API), so unit tests fake it in
// a few lines and integration tests run against the local SQS server.
//
// It owns the SQS wire details: long polling (bounded by the caller's
// deadline), batches of 10, batched deletes, visibility changes in whole
// seconds, the system attributes the runner needs (receive count, sent and
// first-receive timestamps), and dead-lettering with reason attributes
// (copy to the DLQ preserving body and typed attributes, then delete). It
// also has EnsureQueues, which creates a queue and its DLQ with a redrive
// policy for the local stack, the demo and tests.
//
// It must never interpret message bodies, decide outcomes (the worker
// runner does), or log bodies or receipt handles.
package sqssource
