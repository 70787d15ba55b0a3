// Package envelopetest helps tests produce valid and hostile envelopes.
//
// A Kit holds a fresh test key ring (an ES256 and an EdDSA key that are
// trusted, and a "stranger" key that is not), signs claims, builds a Verifier
// with matching Config, and returns a catalogue of hostile envelopes (Hostile)
// each paired with the reason code a Verifier must give, so the worker, DLQ
// and demo tests can push the same attacks through their own paths. KMS is a
// fake AWS KMS (JSON 1.1 wire format, real keys) for the real kms client.
//
// It must never be imported by non-test code: its keys are throwaway and
// deterministic when seeded.
package envelopetest
