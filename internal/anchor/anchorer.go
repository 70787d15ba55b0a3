package anchor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/envelope"
)

// Config configures an Anchorer.
type Config struct {
	CheckConfig
	// Signer signs anchors: the envelope key machinery (local key or KMS).
	Signer envelope.PayloadSigner
	Logger *zap.Logger
}

// Result is what an anchoring run did for one tenant.
type Result struct {
	TenantID uuid.UUID `json:"tenant_id"`
	// Status is "anchored", "unchanged" (the head is already anchored),
	// "empty" (no events) or "refused" (the chain does not verify against
	// its anchors: it is not anchored, so a tampered head is never blessed).
	Status  string `json:"status"`
	Seq     int64  `json:"seq,omitempty"`
	Key     string `json:"key,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// Anchorer signs and stores chain heads.
type Anchorer struct{ cfg Config }

// New checks cfg.
func New(cfg Config) (*Anchorer, error) {
	cc, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.CheckConfig = cc
	if cfg.Signer == nil {
		return nil, errors.New("anchor: a signer is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Anchorer{cfg: cfg}, nil
}

// Run anchors the heads of tenants (default: every tenant with a chain).
// Each tenant's chain is verified against its existing anchors first, and
// the head that verification scanned is what gets signed. The error is
// non-nil only for outages; refusals are results.
func (a *Anchorer) Run(ctx context.Context, tenants []uuid.UUID) ([]Result, error) {
	if len(tenants) == 0 {
		var err error
		if tenants, err = a.cfg.Source.AuditTenants(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Result, 0, len(tenants))
	for _, t := range tenants {
		res, err := a.anchorTenant(ctx, t)
		if err != nil {
			return out, err
		}
		fields := []zap.Field{zap.String("tenant_id", t.String()), zap.String("job_id", "audit-anchor"),
			zap.String("status", res.Status), zap.Int64("seq", res.Seq)}
		if res.Status == "refused" {
			// An error line: the worker-errors alarm of the log group sees it.
			a.cfg.Logger.Error("audit anchor refused: the chain does not match its anchors", append(fields, zap.String("problem", res.Problem))...)
		} else {
			a.cfg.Logger.Info("audit anchor", fields...)
		}
		out = append(out, res)
	}
	return out, nil
}

func (a *Anchorer) anchorTenant(ctx context.Context, tenant uuid.UUID) (Result, error) {
	res := Result{TenantID: tenant}
	rep, h, err := checkTenant(ctx, a.cfg.CheckConfig, tenant)
	if err != nil {
		return res, err
	}
	// A chain that verifies but has no anchor yet gets its first one. (A
	// chain whose anchors were all deleted looks the same: Object Lock in
	// COMPLIANCE mode is what rules that out.)
	firstAnchor := rep.Anchors == 0 && rep.MismatchSeq == 0 && h.seq > 0 && rep.Unanchored == h.seq
	if !rep.OK && !firstAnchor {
		res.Status, res.Problem = "refused", rep.Problem
		return res, nil
	}
	switch h.seq {
	case 0:
		res.Status = "empty"
		return res, nil
	case rep.AnchoredSeq:
		res.Status, res.Seq = "unchanged", h.seq
		return res, nil
	}
	anc := Anchor{V: Version, Tenant: tenant, Seq: h.seq, Hash: hex.EncodeToString(h.hash), AnchoredAt: a.cfg.Now().UTC().Truncate(time.Millisecond)}
	if h.anchor != nil {
		// The newest anchor the check just loaded and verified.
		anc.Prev = &Link{Seq: h.anchor.a.Seq, SHA256: FileSHA256(h.anchor.file)}
	}
	payload, err := json.Marshal(anc)
	if err != nil {
		return res, err
	}
	tok, err := a.cfg.Signer.SignPayload(ctx, Type, payload)
	if err != nil {
		return res, err
	}
	key := Key(a.cfg.Store.Prefix(), tenant, h.seq)
	if err := a.cfg.Store.Write(ctx, key, []byte(tok)); err != nil {
		return res, err
	}
	res.Status, res.Seq, res.Key = "anchored", h.seq, key
	return res, nil
}

// RunEvery runs Run now and then every interval until ctx ends, passing
// each run's results to report (an error from report or from a run ends
// it). interval <= 0 runs once.
func (a *Anchorer) RunEvery(ctx context.Context, tenants []uuid.UUID, interval time.Duration, report func([]Result) error) error {
	for {
		res, err := a.Run(ctx, tenants)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := report(res); err != nil {
			return err
		}
		if interval <= 0 {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
