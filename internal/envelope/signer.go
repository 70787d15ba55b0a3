package envelope

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/go-jose/go-jose/v4"
)

// Signer signs claims into a compact JWS envelope. Implementations validate
// the claims first and never return a token a Verifier would refuse for its
// shape or size.
type Signer interface {
	Sign(ctx context.Context, c Claims) (string, error)
}

// DefaultMaxTokenBytes is the default size limit of an envelope, for signers
// and verifiers. S3 allows 2048 bytes of user metadata in total (names plus
// values); the envelope's name "tenantry-envelope" takes 17, so an envelope
// can never exceed 2031 bytes there. 1536 leaves room for other metadata.
const DefaultMaxTokenBytes = 1536

// S3 user-metadata names of the envelope.
const (
	MetadataKey    = "tenantry-envelope"            // as returned by HeadObject's Metadata map
	MetadataHeader = "X-Amz-Meta-Tenantry-Envelope" // the HTTP header a PUT carries
	// S3UserMetadataLimit is S3's limit for all user metadata (keys + values).
	S3UserMetadataLimit = 2048
)

// ErrTokenTooLarge is returned by signers when the envelope would be larger
// than DefaultMaxTokenBytes (shorten the resource, subject or issuer).
var ErrTokenTooLarge = errors.New("envelope: token larger than the size budget")

// KeySigner signs with a local private key: ECDSA P-256 (ES256) or Ed25519
// (EdDSA).
type KeySigner struct {
	kid  string
	alg  string
	priv crypto.Signer
	pub  PublicKey
}

// NewKeySigner wraps a private key. An empty kid defaults to the RFC 7638
// thumbprint of the public key.
func NewKeySigner(priv crypto.Signer, kid string) (*KeySigner, error) {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("envelope: ECDSA signing key must be P-256")
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("envelope: invalid Ed25519 private key")
		}
	default:
		return nil, fmt.Errorf("envelope: unsupported signing key type %T (need P-256 ECDSA or Ed25519)", priv)
	}
	if kid == "" {
		tp, err := Thumbprint(priv.Public())
		if err != nil {
			return nil, err
		}
		kid = tp
	}
	pub, err := NewPublicKey(kid, priv.Public())
	if err != nil {
		return nil, err
	}
	return &KeySigner{kid: kid, alg: pub.Algorithm, priv: priv, pub: pub}, nil
}

// GenerateKey creates a new signing key for alg (AlgES256 or AlgEdDSA); the
// kid is the key's thumbprint unless kid is set.
func GenerateKey(alg, kid string) (*KeySigner, error) {
	switch alg {
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewKeySigner(k, kid)
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewKeySigner(k, kid)
	}
	return nil, fmt.Errorf("envelope: algorithm %q not supported (ES256, EdDSA)", alg)
}

// LoadKeySigner reads a private key file: PEM (PKCS#8 "PRIVATE KEY" or SEC 1
// "EC PRIVATE KEY") or a private JWK. kid overrides the JWK's kid; for PEM an
// empty kid means the thumbprint.
func LoadKeySigner(path, kid string) (*KeySigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("envelope: read signing key: %w", err)
	}
	return ParseKeySigner(data, kid)
}

// ParseKeySigner is LoadKeySigner on bytes.
func ParseKeySigner(data []byte, kid string) (*KeySigner, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(trimmed); err != nil {
			return nil, errors.New("envelope: signing key is not a valid JWK")
		}
		if jwk.IsPublic() {
			return nil, errors.New("envelope: signing key JWK has no private part")
		}
		priv, ok := jwk.Key.(crypto.Signer)
		if !ok {
			return nil, errors.New("envelope: signing key JWK is not an asymmetric private key")
		}
		if jwk.Algorithm != "" && jwk.Algorithm != AlgES256 && jwk.Algorithm != AlgEdDSA {
			return nil, fmt.Errorf("envelope: signing key JWK alg %q not supported", jwk.Algorithm)
		}
		if kid == "" {
			kid = jwk.KeyID
		}
		return NewKeySigner(priv, kid)
	}
	block, _ := pem.Decode(trimmed)
	if block == nil {
		return nil, errors.New("envelope: signing key is neither PEM nor JWK")
	}
	var priv any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("envelope: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, errors.New("envelope: cannot parse PEM private key")
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("envelope: PEM key is not a signing key")
	}
	return NewKeySigner(s, kid)
}

// KeyID is the kid written into every envelope.
func (s *KeySigner) KeyID() string { return s.kid }

// Algorithm is AlgES256 or AlgEdDSA.
func (s *KeySigner) Algorithm() string { return s.alg }

// PublicKey is the verification key to publish (KeyRing, JWKS).
func (s *KeySigner) PublicKey() PublicKey { return s.pub }

// ErrForeignSigner is returned by SignerPublicKey for a signer this package
// did not build: its public key is unknown here.
var ErrForeignSigner = errors.New("envelope: not a signer of this package")

// SignerPublicKey returns the verification key of a signer this package
// built: a KeySigner's own, or a KMSSigner's (asking KMS on first use). Any
// other value (nil included) is ErrForeignSigner.
func SignerPublicKey(ctx context.Context, s any) (PublicKey, error) {
	switch k := s.(type) {
	case *KeySigner:
		return k.PublicKey(), nil
	case *KMSSigner:
		return k.PublicKey(ctx)
	}
	return PublicKey{}, ErrForeignSigner
}

// MarshalPEM returns the private key as PKCS#8 PEM.
func (s *KeySigner) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalJWK returns the private key as a JWK with kid, alg and use=sig.
func (s *KeySigner) MarshalJWK() ([]byte, error) {
	return json.MarshalIndent(jose.JSONWebKey{Key: s.priv, KeyID: s.kid, Algorithm: s.alg, Use: "sig"}, "", "  ")
}

// Sign implements Signer.
func (s *KeySigner) Sign(_ context.Context, c Claims) (string, error) {
	input, err := signingInput(s.alg, s.kid, c)
	if err != nil {
		return "", err
	}
	sig, err := s.signBytes(input)
	if err != nil {
		return "", err
	}
	return finish(input, sig)
}

// signBytes produces the raw JWS signature (r||s for ES256) over input.
func (s *KeySigner) signBytes(input []byte) ([]byte, error) {
	switch k := s.priv.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		r, ss, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, fmt.Errorf("envelope: sign: %w", err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		ss.FillBytes(out[32:])
		return out, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	}
	return nil, errors.New("envelope: unsupported key")
}

// signingInput validates c and returns base64url(header) "." base64url(claims).
func signingInput(alg, kid string, c Claims) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: TokenType})
	if err != nil {
		return nil, err
	}
	p, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	out := make([]byte, 0, enc.EncodedLen(len(h))+1+enc.EncodedLen(len(p)))
	out = enc.AppendEncode(out, h)
	out = append(out, '.')
	out = enc.AppendEncode(out, p)
	return out, nil
}

func finish(input, sig []byte) (string, error) { return finishLimit(input, sig, DefaultMaxTokenBytes) }

func finishLimit(input, sig []byte, limit int) (string, error) {
	enc := base64.RawURLEncoding
	n := len(input) + 1 + enc.EncodedLen(len(sig))
	if n > limit {
		return "", fmt.Errorf("%w: %d > %d bytes", ErrTokenTooLarge, n, limit)
	}
	out := make([]byte, 0, n)
	out = append(out, input...)
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}
