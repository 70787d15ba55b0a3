package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tenantry/tenantry/internal/envelope"
)

// Signer signs envelope claims into a compact JWS. Build one with
// LoadKeyFile, ParseKey, GenerateKey or NewKMSSigner.
type Signer = envelope.Signer

// Claims are an envelope's claims (docs/envelope.md is the reference).
type Claims = envelope.Claims

// Action is an envelope's act claim.
type Action = envelope.Action

// Envelope actions.
const (
	ActionIngest  = envelope.ActionIngest
	ActionReindex = envelope.ActionReindex
	ActionDelete  = envelope.ActionDelete
	ActionPurge   = envelope.ActionPurge
	ActionSearch  = envelope.ActionSearch
)

// Signing algorithms of local keys.
const (
	AlgES256 = envelope.AlgES256
	AlgEdDSA = envelope.AlgEdDSA
)

// KeySigner signs with a local private key; its PublicKey is what verifiers
// must trust (publish it in the JWKS before signing with it).
type KeySigner = envelope.KeySigner

// LoadKeyFile reads a private key file (PKCS#8/SEC1 PEM or a private JWK)
// as written by `tenantry envelope keygen`. kid "" means the JWK's kid, else
// the key's RFC 7638 thumbprint.
func LoadKeyFile(path, kid string) (*KeySigner, error) {
	s, err := envelope.LoadKeySigner(path, kid)
	if err != nil {
		return nil, fmt.Errorf("%w: key file: %w", ErrInvalidConfig, err)
	}
	return s, nil
}

// ParseKey reads a private key from PEM or JWK bytes.
func ParseKey(data []byte, kid string) (*KeySigner, error) {
	s, err := envelope.ParseKeySigner(data, kid)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrInvalidConfig, err)
	}
	return s, nil
}

// GenerateKey creates a new local key (AlgES256 or AlgEdDSA), for tests
// and development.
func GenerateKey(alg, kid string) (*KeySigner, error) {
	s, err := envelope.GenerateKey(alg, kid)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return s, nil
}

// KMSAPI is the part of *kms.Client the KMS signer calls (GetPublicKey,
// DescribeKey, Sign).
type KMSAPI = envelope.KMSAPI

var _ KMSAPI = (*kms.Client)(nil)

// NewKMSSigner signs with an AWS KMS key (ECC_NIST_P256 or
// ECC_NIST_EDWARDS25519, SIGN_VERIFY): the private key never leaves KMS.
// keyID is a key id, key ARN, alias name or alias ARN; an alias is resolved
// again every refresh (default 5m), so moving the alias rotates the key.
func NewKMSSigner(api KMSAPI, keyID string, refresh time.Duration) (Signer, error) {
	s, err := envelope.NewKMSSigner(api, envelope.KMSSignerConfig{KeyID: keyID, Refresh: refresh})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return s, nil
}

// PublicJWK returns the public JWK (with its kid) of a signer built by this
// package: what to publish in the JWKS verifiers trust. A KMS signer asks
// KMS for its public key.
func PublicJWK(ctx context.Context, s Signer) (json.RawMessage, error) {
	pub, err := envelope.SignerPublicKey(ctx, s)
	switch {
	case errors.Is(err, envelope.ErrForeignSigner):
		return nil, fmt.Errorf("%w: not a signer built by this package", ErrInvalidRequest)
	case err != nil:
		return nil, &SignError{Err: err}
	}
	return json.Marshal(pub.JWK())
}
