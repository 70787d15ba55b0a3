package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/presign"
)

// Trust says which envelopes are accepted: the audience, the issuers and
// every source of trusted public keys.
type Trust struct {
	Audience  string // default "tenantry"
	Issuers   []string
	JWKSURL   string
	JWKSFile  string
	KMSKeyIDs []string
	Leeway    time.Duration
}

// Verifier builds an envelope.Verifier from every configured key source.
// Only the gate (internal/binding) calls its verification methods; the
// `tenantry envelope verify` tool asks its Check for a verdict.
func (t Trust) Verifier(ctx context.Context, a AWS, logger *zap.Logger) (*envelope.Verifier, error) {
	keys, err := t.Keys(ctx, a, logger)
	if err != nil {
		return nil, err
	}
	aud := t.Audience
	if aud == "" {
		aud = "tenantry"
	}
	return envelope.NewVerifier(envelope.Config{Audience: aud, Issuers: t.Issuers, Leeway: t.Leeway, Keys: keys}, logger)
}

// Keys combines every configured source of trusted public keys (JWKS URL,
// JWKS file, KMS keys), loaded once.
func (t Trust) Keys(ctx context.Context, a AWS, logger *zap.Logger) (envelope.KeySource, error) {
	var sources []envelope.KeySource
	for _, jc := range []envelope.JWKSConfig{{URL: t.JWKSURL}, {Path: t.JWKSFile}} {
		if jc.URL == "" && jc.Path == "" {
			continue
		}
		src, err := envelope.NewJWKSSource(jc, logger)
		if err != nil {
			return nil, err
		}
		if err := src.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("load trusted keys: %w", err)
		}
		sources = append(sources, src)
	}
	if len(t.KMSKeyIDs) > 0 {
		client, err := a.KMS(ctx)
		if err != nil {
			return nil, err
		}
		src, err := envelope.NewKMSKeySource(client, envelope.KMSKeysConfig{KeyIDs: t.KMSKeyIDs}, logger)
		if err != nil {
			return nil, err
		}
		if err := src.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("load trusted KMS keys: %w", err)
		}
		sources = append(sources, src)
	}
	if len(sources) == 0 {
		return nil, exitcode.Usagef("no trusted keys: set --envelope-jwks-url, --envelope-jwks-file or --envelope-kms-key-ids")
	}
	if len(sources) > 1 {
		return envelope.Combine(sources...), nil
	}
	return sources[0], nil
}

// Signing chooses a signing key: a local key file or a KMS key.
type Signing struct {
	KeyFile  string
	KID      string
	KMSKeyID string
}

// Signer builds the chosen signer.
func (s Signing) Signer(ctx context.Context, a AWS) (envelope.Signer, error) {
	switch {
	case s.KeyFile != "" && s.KMSKeyID != "":
		return nil, exitcode.Usagef("use one of --envelope-key-file and --envelope-kms-key-id")
	case s.KeyFile != "":
		return envelope.LoadKeySigner(s.KeyFile, s.KID)
	case s.KMSKeyID != "":
		client, err := a.KMS(ctx)
		if err != nil {
			return nil, err
		}
		return envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: s.KMSKeyID})
	}
	return nil, exitcode.Usagef("a signing key is required: --envelope-key-file or --envelope-kms-key-id")
}

// PayloadSigner builds the chosen signer for signed payloads (audit
// anchors): the same key machinery as envelopes.
func (s Signing) PayloadSigner(ctx context.Context, a AWS) (envelope.PayloadSigner, error) {
	signer, err := s.Signer(ctx, a)
	if err != nil {
		return nil, err
	}
	ps, ok := signer.(envelope.PayloadSigner)
	if !ok {
		return nil, errors.New("the signing key cannot sign payloads")
	}
	return ps, nil
}

// Issuer builds an envelope.Issuer signing with the chosen key.
func (s Signing) Issuer(ctx context.Context, a AWS, cfg envelope.IssuerConfig) (*envelope.Issuer, error) {
	signer, err := s.Signer(ctx, a)
	if err != nil {
		return nil, err
	}
	return envelope.NewIssuer(signer, cfg)
}

// PublicJWKS returns the public JWKS of signing keys: private key files
// and KMS keys.
func PublicJWKS(ctx context.Context, a AWS, keyFiles, kmsKeyIDs []string) ([]byte, error) {
	var keys []envelope.PublicKey
	for _, f := range keyFiles {
		s, err := envelope.LoadKeySigner(f, "")
		if err != nil {
			return nil, err
		}
		keys = append(keys, s.PublicKey())
	}
	if len(kmsKeyIDs) > 0 {
		client, err := a.KMS(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range kmsKeyIDs {
			s, err := envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: id})
			if err != nil {
				return nil, err
			}
			pk, err := s.PublicKey(ctx)
			if err != nil {
				return nil, err
			}
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		return nil, exitcode.Usagef("give at least one --envelope-key-file or --envelope-kms-key-id")
	}
	ring, err := envelope.NewKeyRing(keys...)
	if err != nil {
		return nil, err
	}
	return ring.JWKS()
}

// Presigner builds a presign.Presigner for bucket, signing envelopes with
// the chosen key and claims.
func (s Signing) Presigner(ctx context.Context, a AWS, claims envelope.IssuerConfig, cfg presign.Config, logger *zap.Logger) (*presign.Presigner, error) {
	iss, err := s.Issuer(ctx, a, claims)
	if err != nil {
		return nil, err
	}
	client, err := a.S3(ctx)
	if err != nil {
		return nil, err
	}
	return presign.New(s3.NewPresignClient(client), iss, cfg, logger)
}
