// Package conformance holds the cross-transport conformance test: the
// project's hostile corpus (envelopes, events, documents) is run through the
// SQS worker path (internal/ingest, as the runner calls it) and the Step
// Functions task path (internal/sfntask, as the Lambda invokes it), on one
// gate (internal/binding). Both must give the same reason code for every
// case, and a refused tenant gets no row.
//
// It has no code of its own beyond its tests.
package conformance
