package envelope

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"go.uber.org/zap"
)

// KMSPublicKeyAPI is the part of *kms.Client a KMSKeySource calls.
type KMSPublicKeyAPI interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// KMSAPI is the part of *kms.Client a KMSSigner calls.
type KMSAPI interface {
	KMSPublicKeyAPI
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
}

// KMSKeyID is the kid of a KMS key: the key id after "key/" in its ARN
// (a UUID or "mrk-..."), or the input unchanged when it is not an ARN. The
// KMS signer and key source use it on both sides.
func KMSKeyID(arnOrID string) string {
	if i := strings.LastIndex(arnOrID, ":key/"); i >= 0 && strings.HasPrefix(arnOrID, "arn:") {
		return arnOrID[i+len(":key/"):]
	}
	return arnOrID
}

// kmsKey is a resolved KMS signing key.
type kmsKey struct {
	arn string // the concrete key (never an alias), as KMS returned it
	pub PublicKey
}

// resolveKMSKey calls GetPublicKey and checks the key is a signing key of a
// supported spec.
func resolveKMSKey(ctx context.Context, api KMSPublicKeyAPI, keyID string) (kmsKey, error) {
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: &keyID})
	if err != nil {
		return kmsKey{}, fmt.Errorf("envelope: kms GetPublicKey: %w", err)
	}
	if out.KeyId == nil || *out.KeyId == "" {
		return kmsKey{}, errors.New("envelope: kms GetPublicKey returned no key id")
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return kmsKey{}, errors.New("envelope: kms key is not a SIGN_VERIFY key")
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return kmsKey{}, fmt.Errorf("envelope: kms public key: %w", err)
	}
	var want types.SigningAlgorithmSpec
	switch out.KeySpec {
	case types.KeySpecEccNistP256:
		want = types.SigningAlgorithmSpecEcdsaSha256
	case types.KeySpecEccNistEdwards25519:
		want = types.SigningAlgorithmSpecEd25519Sha512
	default:
		return kmsKey{}, fmt.Errorf("envelope: kms key spec %s not supported (ECC_NIST_P256, ECC_NIST_EDWARDS25519)", out.KeySpec)
	}
	found := false
	for _, a := range out.SigningAlgorithms {
		found = found || a == want
	}
	if !found {
		return kmsKey{}, fmt.Errorf("envelope: kms key cannot sign with %s", want)
	}
	pk, err := NewPublicKey(KMSKeyID(*out.KeyId), pub)
	if err != nil {
		return kmsKey{}, err
	}
	return kmsKey{arn: *out.KeyId, pub: pk}, nil
}

// KMSSignerConfig configures a KMSSigner.
type KMSSignerConfig struct {
	// KeyID is a key id, key ARN, alias name or alias ARN of an
	// ECC_NIST_P256 (ES256) or ECC_NIST_EDWARDS25519 (EdDSA) SIGN_VERIFY key.
	KeyID string
	// Refresh is how often an alias is resolved again (rotation by moving
	// the alias). Default 5m.
	Refresh time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// KMSSigner signs envelopes with AWS KMS Sign; the private key never leaves
// KMS. For ES256 it sends the SHA-256 digest (MessageType DIGEST) and turns
// KMS's DER signature into JWS's raw r||s.
type KMSSigner struct {
	api KMSAPI
	cfg KMSSignerConfig

	mu         sync.Mutex
	key        kmsKey
	resolvedAt time.Time
}

// NewKMSSigner returns a signer; the key is resolved on first use.
func NewKMSSigner(api KMSAPI, cfg KMSSignerConfig) (*KMSSigner, error) {
	if api == nil || cfg.KeyID == "" {
		return nil, errors.New("envelope: KMS signer needs a client and a KeyID")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &KMSSigner{api: api, cfg: cfg}, nil
}

// PublicKey resolves (or returns the cached) public key of the signing key,
// with its kid: what to publish for verifiers.
func (s *KMSSigner) PublicKey(ctx context.Context) (PublicKey, error) {
	k, err := s.resolve(ctx)
	return k.pub, err
}

func (s *KMSSigner) resolve(ctx context.Context) (kmsKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if s.key.arn != "" && now.Sub(s.resolvedAt) < s.cfg.Refresh {
		return s.key, nil
	}
	k, err := resolveKMSKey(ctx, s.api, s.cfg.KeyID)
	if err != nil {
		if s.key.arn != "" {
			return s.key, nil // keep signing with the known key while KMS hiccups
		}
		return kmsKey{}, err
	}
	s.key, s.resolvedAt = k, now
	return k, nil
}

// Sign implements Signer.
func (s *KMSSigner) Sign(ctx context.Context, c Claims) (string, error) {
	k, err := s.resolve(ctx)
	if err != nil {
		return "", err
	}
	input, err := signingInput(k.pub.Algorithm, k.pub.KeyID, c)
	if err != nil {
		return "", err
	}
	sig, err := s.signBytes(ctx, k, input)
	if err != nil {
		return "", err
	}
	return finish(input, sig)
}

// signBytes has KMS sign input with k and checks the signature with k's
// public key before returning it in JWS form.
func (s *KMSSigner) signBytes(ctx context.Context, k kmsKey, input []byte) ([]byte, error) {
	// Sign with the concrete key ARN, never the alias: the kid in the header
	// must name the key that really signs.
	in := &kms.SignInput{KeyId: &k.arn}
	switch k.pub.Algorithm {
	case AlgES256:
		digest := sha256.Sum256(input)
		in.Message, in.MessageType, in.SigningAlgorithm = digest[:], types.MessageTypeDigest, types.SigningAlgorithmSpecEcdsaSha256
	case AlgEdDSA:
		in.Message, in.MessageType, in.SigningAlgorithm = input, types.MessageTypeRaw, types.SigningAlgorithmSpecEd25519Sha512
	}
	out, err := s.api.Sign(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("envelope: kms Sign: %w", err)
	}
	var sig []byte
	switch k.pub.Algorithm {
	case AlgES256:
		sig, err = derToRaw(out.Signature, 32)
		if err == nil && !ecdsa.Verify(k.pub.Key.(*ecdsa.PublicKey), in.Message, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			err = errors.New("envelope: kms signature does not verify with the key's public key")
		}
	case AlgEdDSA:
		sig = out.Signature
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.pub.Key.(ed25519.PublicKey), input, sig) {
			err = errors.New("envelope: kms signature does not verify with the key's public key")
		}
	}
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// derToRaw converts an ASN.1 DER ECDSA signature (SEQUENCE { r INTEGER, s
// INTEGER }) into the fixed-width r||s form of JWS (RFC 7518 section 3.4).
func derToRaw(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil {
		return nil, errors.New("envelope: kms signature is not DER ECDSA")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > size*8 || sig.S.BitLen() > size*8 {
		return nil, errors.New("envelope: kms signature values out of range")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}

// KMSKeysConfig configures a KMSKeySource.
type KMSKeysConfig struct {
	// KeyIDs lists the KMS keys (ids, ARNs, aliases) whose signatures are
	// trusted. Only these are ever asked for: a kid in a token never becomes a
	// KMS call on its own.
	KeyIDs []string
	// Refresh is how often the keys are resolved again (aliases can move).
	// Keys seen in the previous resolution stay trusted for one more period.
	// Default 1h.
	Refresh time.Duration
	// MinRefresh is the shortest time between two resolutions caused by
	// unknown kids. Default 30s.
	MinRefresh time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// KMSKeySource is a KeySource over AWS KMS GetPublicKey, cached.
type KMSKeySource struct {
	api KMSPublicKeyAPI
	cfg KMSKeysConfig
	log *zap.Logger

	sem        chan struct{}
	mu         sync.RWMutex
	current    map[string]PublicKey
	previous   map[string]PublicKey
	resolvedAt time.Time
	tried      time.Time
	attempts   uint64
}

// NewKMSKeySource returns a source; keys are resolved on first use.
func NewKMSKeySource(api KMSPublicKeyAPI, cfg KMSKeysConfig, logger *zap.Logger) (*KMSKeySource, error) {
	if api == nil || len(cfg.KeyIDs) == 0 {
		return nil, errors.New("envelope: KMS key source needs a client and at least one key id")
	}
	for _, id := range cfg.KeyIDs {
		if id == "" {
			return nil, errors.New("envelope: empty KMS key id")
		}
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Hour
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &KMSKeySource{api: api, cfg: cfg, log: logger, sem: make(chan struct{}, 1)}, nil
}

// PublicKey implements KeySource.
func (s *KMSKeySource) PublicKey(ctx context.Context, kid string) (PublicKey, error) {
	now := s.cfg.Now()
	s.mu.RLock()
	k, ok := s.lookup(kid)
	stale := now.Sub(s.resolvedAt) >= s.cfg.Refresh
	mayRetry := now.Sub(s.tried) >= s.cfg.MinRefresh // also bounds retries after failures
	attempts := s.attempts
	s.mu.RUnlock()
	if ok && !stale {
		return k, nil
	}
	if mayRetry {
		err := s.resolve(ctx, attempts)
		s.mu.RLock()
		k, ok = s.lookup(kid)
		have := s.current != nil
		s.mu.RUnlock()
		if !ok && !have && err != nil {
			return PublicKey{}, err
		}
	}
	if ok {
		return k, nil
	}
	s.mu.RLock()
	have := s.current != nil
	s.mu.RUnlock()
	if !have {
		return PublicKey{}, ErrKeysUnavailable
	}
	return PublicKey{}, ErrUnknownKey
}

func (s *KMSKeySource) lookup(kid string) (PublicKey, bool) {
	if k, ok := s.current[kid]; ok {
		return k, true
	}
	k, ok := s.previous[kid]
	return k, ok
}

// Refresh resolves every configured key now.
func (s *KMSKeySource) Refresh(ctx context.Context) error {
	s.mu.RLock()
	n := s.attempts
	s.mu.RUnlock()
	return s.resolve(ctx, n)
}

func (s *KMSKeySource) resolve(ctx context.Context, seen uint64) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	s.mu.RLock()
	already := s.attempts != seen
	s.mu.RUnlock()
	if already {
		return nil
	}
	next := make(map[string]PublicKey, len(s.cfg.KeyIDs))
	var errs []error
	for _, id := range s.cfg.KeyIDs {
		k, err := resolveKMSKey(ctx, s.api, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		next[k.pub.KeyID] = k.pub
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tried = now
	s.attempts++
	if len(errs) > 0 {
		// Keep the last good set plus whatever resolved now; retry after
		// MinRefresh (a disabled old key must not hide a new one).
		if len(next) > 0 {
			merged := make(map[string]PublicKey, len(s.current)+len(next))
			for kid, k := range s.current {
				merged[kid] = k
			}
			for kid, k := range next {
				merged[kid] = k
			}
			s.current = merged
		}
		s.log.Warn("envelope: KMS public key refresh failed; keeping the previous keys", zap.Error(errors.Join(errs...)))
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, errors.Join(errs...))
	}
	if s.current != nil {
		s.previous = s.current
	}
	s.current, s.resolvedAt = next, now
	return nil
}
