// Package envelope owns the signed tenant envelope: a compact JWS (ES256 or
// EdDSA) whose claims name the tenant, the actor, the action and the exact
// resource a unit of work may touch.
//
// It owns the claim format (Claims), signing with a local key (KeySigner) or
// AWS KMS (KMSSigner), the public key ring (KeyRing, JWKSSource,
// KMSKeySource, Combine) and verification (Verifier). A successful
// verification is the only place outside tests where a tenantdb.Scope is
// minted: the tenant of a job comes from a signature, never from a payload
// field or an object key alone.
//
// It must never: accept an algorithm other than ES256 or EdDSA, trust a key
// named by the token itself (jwk, jku, x5u headers), resolve a key id it was
// not configured with, put token contents or claims into errors or logs, or
// treat a key source outage as a rejection (that is ErrKeysUnavailable,
// retry later). Rejections are *Error values with a stable Reason code.
package envelope
