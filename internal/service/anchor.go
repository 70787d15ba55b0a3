package service

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/anchor"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Anchoring configures the audit chain anchors (tenantry audit anchor,
// verify --anchors, export --anchors).
type Anchoring struct {
	OwnerURL string // the owner role: reads every chain
	Location string // s3://bucket/anchors/
	// Retention and Mode of the Object Lock on each new anchor.
	Retention time.Duration
	Mode      string
	// Signing is the anchoring key (anchor only): a key file or KMS key.
	Signing Signing
	// Keys are the trusted anchor keys (JWKS file/URL, KMS key ids). When
	// none is set, the signing key's own public key is trusted.
	Keys Trust
}

func (s Anchoring) store(ctx context.Context, a AWS) (anchor.Store, error) {
	bucket, prefix, err := anchor.ParseURI(s.Location)
	if err != nil {
		return nil, err
	}
	client, err := a.S3(ctx)
	if err != nil {
		return nil, err
	}
	return anchor.NewS3Store(client, objects.New(client), anchor.S3Config{Bucket: bucket, Prefix: prefix, Mode: s.Mode, Retention: s.Retention})
}

func (s Anchoring) hasKeys() bool {
	return s.Keys.JWKSURL != "" || s.Keys.JWKSFile != "" || len(s.Keys.KMSKeyIDs) > 0
}

// trusted returns the trusted anchor keys; signer (may be nil) supplies its
// own public key when no trusted keys are configured.
func (s Anchoring) trusted(ctx context.Context, a AWS, signer envelope.PayloadSigner, logger *zap.Logger) (envelope.KeySource, error) {
	if s.hasKeys() {
		return s.Keys.Keys(ctx, a, logger)
	}
	pub, err := envelope.SignerPublicKey(ctx, signer)
	if errors.Is(err, envelope.ErrForeignSigner) {
		return nil, errors.New("no trusted anchor keys: set an anchor JWKS file/URL or KMS key ids")
	}
	if err != nil {
		return nil, err
	}
	return envelope.NewKeyRing(pub)
}

func (s Anchoring) checkConfig(ctx context.Context, a AWS, signer envelope.PayloadSigner, logger *zap.Logger) (anchor.CheckConfig, func(), error) {
	store, err := s.store(ctx, a)
	if err != nil {
		return anchor.CheckConfig{}, nil, err
	}
	keys, err := s.trusted(ctx, a, signer, logger)
	if err != nil {
		return anchor.CheckConfig{}, nil, err
	}
	r, err := tenantdb.OpenAuditReader(ctx, s.OwnerURL)
	if err != nil {
		return anchor.CheckConfig{}, nil, err
	}
	return anchor.CheckConfig{Source: r, Store: store, Keys: keys}, r.Close, nil
}

// verifyConfig is checkConfig for verifying only: the trusted anchor keys,
// or else the anchoring key's own public key.
func (s Anchoring) verifyConfig(ctx context.Context, a AWS, logger *zap.Logger) (anchor.CheckConfig, func(), error) {
	var signer envelope.PayloadSigner
	if !s.hasKeys() {
		var err error
		if signer, err = s.Signing.PayloadSigner(ctx, a); err != nil {
			return anchor.CheckConfig{}, nil, errors.New("no trusted anchor keys: set an anchor JWKS file/URL or KMS key ids (or the anchoring key)")
		}
	}
	return s.checkConfig(ctx, a, signer, logger)
}

// AuditAnchor signs and stores the chain heads of tenants (default all),
// once, or every `every` until ctx ends (each result is passed to report).
func AuditAnchor(ctx context.Context, a AWS, s Anchoring, tenants []uuid.UUID, every time.Duration, logger *zap.Logger, report func([]anchor.Result) error) error {
	signer, err := s.Signing.PayloadSigner(ctx, a)
	if err != nil {
		return err
	}
	cfg, closeFn, err := s.checkConfig(ctx, a, signer, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	anch, err := anchor.New(anchor.Config{CheckConfig: cfg, Signer: signer, Logger: logger})
	if err != nil {
		return err
	}
	return anch.RunEvery(ctx, tenants, every, report)
}

// AuditVerifyAnchored checks every chain (or tenants) against its anchors.
func AuditVerifyAnchored(ctx context.Context, a AWS, s Anchoring, tenants []uuid.UUID, logger *zap.Logger) ([]anchor.Report, error) {
	cfg, closeFn, err := s.verifyConfig(ctx, a, logger)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return anchor.Check(ctx, cfg, tenants)
}

// AuditExportBundle writes tenant's offline bundle (events, anchors, keys,
// SHA256SUMS) into dir.
func AuditExportBundle(ctx context.Context, a AWS, s Anchoring, tenant uuid.UUID, dir string, logger *zap.Logger) error {
	cfg, closeFn, err := s.verifyConfig(ctx, a, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	return anchor.WriteBundle(ctx, dir, cfg.Source, cfg.Store, cfg.Keys, tenant)
}

// AuditVerifyBundle checks an offline bundle with the trusted anchor keys
// (no database, no S3).
func AuditVerifyBundle(ctx context.Context, a AWS, keys Trust, dir string, logger *zap.Logger) (anchor.Report, error) {
	ks, err := keys.Keys(ctx, a, logger)
	if err != nil {
		return anchor.Report{}, err
	}
	return anchor.CheckBundle(ctx, dir, ks)
}
