package envelope

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms accepted by this package; nothing else ever verifies.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256 (AWS KMS ECC_NIST_P256)
	AlgEdDSA = "EdDSA" // Ed25519
)

// maxKeyID bounds kid values in tokens and key sets.
const maxKeyID = 256

// PublicKey is one verification key of the ring.
type PublicKey struct {
	KeyID     string           // kid
	Algorithm string           // AlgES256 or AlgEdDSA, fixed by the key type
	Key       crypto.PublicKey // *ecdsa.PublicKey (P-256) or ed25519.PublicKey
}

// NewPublicKey wraps a P-256 ECDSA or Ed25519 public key; the algorithm
// follows from the key type.
func NewPublicKey(kid string, pub crypto.PublicKey) (PublicKey, error) {
	if kid == "" || len(kid) > maxKeyID || !utf8.ValidString(kid) {
		return PublicKey{}, errors.New("envelope: key id empty, too long or not UTF-8")
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return PublicKey{}, errors.New("envelope: ECDSA key is not on P-256")
		}
		if _, err := k.ECDH(); err != nil { // refuses points not on the curve
			return PublicKey{}, fmt.Errorf("envelope: invalid P-256 public key: %w", err)
		}
		return PublicKey{KeyID: kid, Algorithm: AlgES256, Key: k}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return PublicKey{}, errors.New("envelope: invalid Ed25519 public key")
		}
		return PublicKey{KeyID: kid, Algorithm: AlgEdDSA, Key: k}, nil
	}
	return PublicKey{}, fmt.Errorf("envelope: unsupported public key type %T (need P-256 ECDSA or Ed25519)", pub)
}

// JWK returns the public JWK of k (kty, crv, x, y, kid, alg, use=sig).
func (k PublicKey) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: k.Algorithm, Use: "sig"}
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of a P-256
// or Ed25519 public key: the default kid of local keys, and what jose's
// calculateJwkThumbprint returns.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("envelope: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// KeySource finds verification keys by kid. PublicKey returns ErrUnknownKey
// (wrapped or not) when the source has no such key; any other error means the
// source could not answer and is reported as ErrKeysUnavailable.
// Implementations must be safe for concurrent use and must never fetch a key
// from a location named by the kid itself.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (PublicKey, error)
}

// KeyRing is a fixed set of public keys; several may be valid at once
// (rotation: publish the new key, switch the signer, retire the old key once
// its envelopes expired).
type KeyRing struct {
	keys map[string]PublicKey
}

// NewKeyRing builds a ring; kids must be unique.
func NewKeyRing(keys ...PublicKey) (*KeyRing, error) {
	r := &KeyRing{keys: make(map[string]PublicKey, len(keys))}
	for _, k := range keys {
		chk, err := NewPublicKey(k.KeyID, k.Key)
		if err != nil {
			return nil, err
		}
		if k.Algorithm != "" && k.Algorithm != chk.Algorithm {
			return nil, fmt.Errorf("envelope: key %q: algorithm %q does not match key type", k.KeyID, k.Algorithm)
		}
		if _, dup := r.keys[k.KeyID]; dup {
			return nil, fmt.Errorf("envelope: duplicate key id %q", k.KeyID)
		}
		r.keys[k.KeyID] = chk
	}
	return r, nil
}

// PublicKey implements KeySource.
func (r *KeyRing) PublicKey(_ context.Context, kid string) (PublicKey, error) {
	if k, ok := r.keys[kid]; ok {
		return k, nil
	}
	return PublicKey{}, ErrUnknownKey
}

// Keys returns the ring's keys sorted by kid.
func (r *KeyRing) Keys() []PublicKey {
	out := make([]PublicKey, 0, len(r.keys))
	for _, k := range r.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KeyID < out[j].KeyID })
	return out
}

// Len is the number of keys.
func (r *KeyRing) Len() int { return len(r.keys) }

// JWKS returns the ring as a JSON Web Key Set ({"keys":[...]}), public
// parts only: what a backend publishes and JWKSSource reads.
func (r *KeyRing) JWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{}
	for _, k := range r.Keys() {
		set.Keys = append(set.Keys, k.JWK())
	}
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{}
	}
	return json.MarshalIndent(set, "", "  ")
}

// JWKSLimits bound what ParseJWKS accepts.
type JWKSLimits struct {
	MaxBytes int // default 64 KiB
	MaxKeys  int // default 32
}

func (l JWKSLimits) withDefaults() JWKSLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 10
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = 32
	}
	return l
}

// ParseJWKS reads a JSON Web Key Set. Keys this package cannot use (RSA,
// other curves, use=enc, an alg that does not fit the key) are skipped and
// counted, so a set shared with other systems still loads; private members
// are dropped (only the public half is kept). A set with no usable key, a
// key without kid, or a duplicate kid is an error.
func ParseJWKS(data []byte, limits JWKSLimits) (ring *KeyRing, skipped int, err error) {
	limits = limits.withDefaults()
	if len(data) > limits.MaxBytes {
		return nil, 0, fmt.Errorf("envelope: JWKS larger than %d bytes", limits.MaxBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("envelope: JWKS is not a JSON key set: %w", err)
	}
	if len(doc.Keys) > limits.MaxKeys {
		return nil, 0, fmt.Errorf("envelope: JWKS has %d keys, more than %d", len(doc.Keys), limits.MaxKeys)
	}
	var keys []PublicKey
	for _, raw := range doc.Keys {
		k, ok, err := parseJWK(raw)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			skipped++
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, skipped, errors.New("envelope: JWKS has no usable ES256 or EdDSA key")
	}
	ring, err = NewKeyRing(keys...)
	return ring, skipped, err
}

// parseJWK returns ok=false for a well-formed key this package does not use.
func parseJWK(raw json.RawMessage) (PublicKey, bool, error) {
	var hdr struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Alg string `json:"alg"`
		Use string `json:"use"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return PublicKey{}, false, fmt.Errorf("envelope: JWKS entry is not a JSON object: %w", err)
	}
	usable := (hdr.Kty == "EC" && hdr.Crv == "P-256") || (hdr.Kty == "OKP" && hdr.Crv == "Ed25519")
	if !usable || (hdr.Use != "" && hdr.Use != "sig") {
		return PublicKey{}, false, nil
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return PublicKey{}, false, fmt.Errorf("envelope: JWKS key %q: %w", hdr.Kid, err)
	}
	if hdr.Kid == "" {
		return PublicKey{}, false, errors.New("envelope: JWKS key without kid")
	}
	pub := jwk.Public().Key
	if pub == nil {
		return PublicKey{}, false, fmt.Errorf("envelope: JWKS key %q has no public key", hdr.Kid)
	}
	k, err := NewPublicKey(hdr.Kid, pub)
	if err != nil {
		return PublicKey{}, false, err
	}
	if hdr.Alg != "" && hdr.Alg != k.Algorithm {
		return PublicKey{}, false, nil // e.g. an EC key marked for ECDH-ES
	}
	return k, true, nil
}

// Combine returns a KeySource that asks each source in order and returns the
// first key found. If no source has the key and one of them could not answer,
// the result is that failure (retry later), not ErrUnknownKey: the key may be
// in the source that failed.
func Combine(sources ...KeySource) KeySource { return combined(sources) }

type combined []KeySource

func (c combined) PublicKey(ctx context.Context, kid string) (PublicKey, error) {
	var failure error
	for _, s := range c {
		k, err := s.PublicKey(ctx, kid)
		switch {
		case err == nil:
			return k, nil
		case errors.Is(err, ErrUnknownKey):
		default:
			if failure == nil {
				failure = err
			}
		}
	}
	if failure != nil {
		return PublicKey{}, failure
	}
	return PublicKey{}, ErrUnknownKey
}
