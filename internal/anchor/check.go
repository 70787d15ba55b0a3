package anchor

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
)

// Report is the anchored verification of one tenant's chain.
type Report struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Events   int64     `json:"events"`
	Anchors  int       `json:"anchors"`
	// AnchoredSeq is the newest anchored seq that still matches.
	AnchoredSeq int64 `json:"anchored_seq"`
	// Unanchored is the number of events after the newest anchor.
	Unanchored int64 `json:"unanchored"`
	OK         bool  `json:"ok"`
	// MismatchSeq is the first anchored seq the chain no longer matches
	// (0 if none): the chain was rewritten at or before it, after
	// AnchoredSeq.
	MismatchSeq int64  `json:"mismatch_seq,omitempty"`
	Problem     string `json:"problem,omitempty"`
}

// Broken reports whether any report is not OK.
func Broken(reports []Report) bool {
	for _, r := range reports {
		if !r.OK {
			return true
		}
	}
	return false
}

// CheckConfig says what to check against what.
type CheckConfig struct {
	Source audit.Source       // the chains (owner role)
	Store  Store              // the anchors
	Keys   envelope.KeySource // trusted anchor signing keys
	Now    func() time.Time   // default time.Now (anchors from the future are refused)
	Skew   time.Duration      // allowed clock skew for anchors' times; default 5m
}

func (c CheckConfig) withDefaults() (CheckConfig, error) {
	if c.Source == nil || c.Store == nil || c.Keys == nil {
		return c, errors.New("anchor: check needs a chain source, an anchor store and trusted keys")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Skew == 0 {
		c.Skew = 5 * time.Minute
	}
	return c, nil
}

// loaded is one anchor file that opened and parsed.
type loaded struct {
	key  string
	file []byte
	a    Anchor
}

// errAnchor is an anchor-level problem (a judgement, not an outage).
type errAnchor struct{ msg string }

func (e *errAnchor) Error() string { return e.msg }

func anchorProblem(format string, args ...any) error {
	return &errAnchor{msg: fmt.Sprintf(format, args...)}
}

// loadAnchors reads, opens and links tenant's anchors in seq order. An
// *errAnchor is a judgement (forged, foreign, missing, replaced); any other
// error is an outage.
func loadAnchors(ctx context.Context, cfg CheckConfig, tenant uuid.UUID) ([]loaded, error) {
	keys, err := cfg.Store.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]loaded, 0, len(keys))
	for _, key := range keys {
		seq, ok := seqOfKey(cfg.Store.Prefix(), tenant, key)
		if !ok {
			return nil, anchorProblem("object %s under the tenant's anchors is not an anchor", key)
		}
		file, err := cfg.Store.Read(ctx, key)
		if errors.Is(err, objects.ErrNotFound) {
			return nil, anchorProblem("anchor %s was listed but is gone", key)
		}
		if err != nil {
			return nil, err
		}
		sp, err := envelope.OpenSigned(ctx, cfg.Keys, string(file), Type)
		if errors.Is(err, envelope.ErrRejected) {
			return nil, anchorProblem("anchor %s refused: %s", key, envelope.ReasonOf(err))
		}
		if err != nil {
			return nil, err
		}
		a, err := parsePayload(sp.Payload)
		switch {
		case err != nil:
			return nil, anchorProblem("anchor %s: %v", key, err)
		case a.Tenant != tenant:
			return nil, anchorProblem("anchor %s is signed for another tenant (%s)", key, a.Tenant)
		case a.Seq != seq:
			return nil, anchorProblem("anchor %s claims seq %d", key, a.Seq)
		case a.AnchoredAt.After(cfg.Now().Add(cfg.Skew)):
			return nil, anchorProblem("anchor %s is dated in the future", key)
		}
		out = append(out, loaded{key: key, file: file, a: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].a.Seq < out[j].a.Seq })
	for i, l := range out {
		if i == 0 {
			if l.a.Prev != nil {
				return nil, anchorProblem("anchor missing: seq %d (linked from %s) is not in the store", l.a.Prev.Seq, l.key)
			}
			continue
		}
		prev := out[i-1]
		switch {
		case l.a.Prev == nil:
			return nil, anchorProblem("anchor %s does not link to the anchor before it (seq %d)", l.key, prev.a.Seq)
		case l.a.Prev.Seq > prev.a.Seq:
			return nil, anchorProblem("anchor missing: seq %d (linked from %s) is not in the store", l.a.Prev.Seq, l.key)
		case l.a.Prev.Seq != prev.a.Seq:
			return nil, anchorProblem("anchor %s links to seq %d, but the anchor before it is seq %d (an anchor was inserted)", l.key, l.a.Prev.Seq, prev.a.Seq)
		case l.a.Prev.SHA256 != FileSHA256(prev.file):
			return nil, anchorProblem("anchor %s was replaced: its bytes are not the ones %s linked", prev.key, l.key)
		case l.a.AnchoredAt.Before(prev.a.AnchoredAt):
			return nil, anchorProblem("anchor %s is dated before the anchor it links to", l.key)
		}
	}
	return out, nil
}

// errStop ends a chain scan early at the first anchored mismatch.
var errStop = errors.New("stop")

// head is what a check scanned: the last row's seq and hash (the head the
// scan verified) and the tenant's newest anchor (nil when it has none).
type head struct {
	seq    int64
	hash   []byte
	anchor *loaded
}

// checkTenant verifies tenant's chain and its anchors, and returns the head
// it scanned (with the newest anchor it loaded, so the anchorer links a new
// anchor to it without listing the store again).
func checkTenant(ctx context.Context, cfg CheckConfig, tenant uuid.UUID) (Report, head, error) {
	r := Report{TenantID: tenant}
	anchors, err := loadAnchors(ctx, cfg, tenant)
	var ae *errAnchor
	if errors.As(err, &ae) {
		r.Problem = ae.msg
		return r, head{}, nil
	}
	if err != nil {
		return r, head{}, err
	}
	r.Anchors = len(anchors)
	var h head
	if n := len(anchors); n > 0 {
		h.anchor = &anchors[n-1]
	}
	bySeq := make(map[int64]loaded, len(anchors))
	for _, l := range anchors {
		bySeq[l.a.Seq] = l
	}
	chain := audit.NewChain(tenant)
	err = cfg.Source.ScanAudit(ctx, tenant, func(e audit.Event) error {
		if err := chain.Add(e); err != nil {
			return err
		}
		h.seq, h.hash = e.Seq, e.Hash
		l, ok := bySeq[e.Seq]
		if !ok {
			return nil
		}
		if hex.EncodeToString(e.Hash) != l.a.Hash {
			r.MismatchSeq = e.Seq
			after := "no earlier anchor still matches"
			if r.AnchoredSeq > 0 {
				after = fmt.Sprintf("after seq %d, whose anchor still matches", r.AnchoredSeq)
			}
			r.Problem = fmt.Sprintf("tenant %s: chain no longer matches its anchor at seq %d (anchored %s): rewritten at or before seq %d, %s",
				tenant, e.Seq, l.a.AnchoredAt.UTC().Format(time.RFC3339), e.Seq, after)
			return errStop
		}
		r.AnchoredSeq = e.Seq
		return nil
	})
	r.Events = chain.Len()
	var be *audit.BrokenError
	switch {
	case errors.Is(err, errStop):
		return r, h, nil
	case errors.As(err, &be):
		r.Problem = be.Error()
		return r, h, nil
	case err != nil:
		return r, head{}, err
	}
	headSeq, headHash, err := cfg.Source.AuditHead(ctx, tenant)
	if err != nil {
		return r, head{}, err
	}
	if err := chain.Close(headSeq, headHash); err != nil {
		r.Problem = err.Error()
		return r, h, nil
	}
	if n := len(anchors); n > 0 && anchors[n-1].a.Seq > h.seq {
		for _, l := range anchors {
			if l.a.Seq > h.seq {
				r.MismatchSeq = l.a.Seq
				break
			}
		}
		r.Problem = fmt.Sprintf("tenant %s: chain ends at seq %d, but seq %d was anchored (rows removed or the chain was reset)",
			tenant, h.seq, r.MismatchSeq)
		return r, h, nil
	}
	if len(anchors) == 0 && h.seq > 0 {
		r.Unanchored = h.seq
		r.Problem = fmt.Sprintf("tenant %s: no anchors for a chain of %d events (never anchored, or its anchors are missing)", tenant, h.seq)
		return r, h, nil
	}
	r.Unanchored = h.seq - r.AnchoredSeq
	r.OK = true
	return r, h, nil
}

// Check verifies the chains of tenants (default: every tenant with a chain
// or with anchors) against their anchors. The error is non-nil only when
// something could not be read (database, S3, keys); judgements are in the
// reports (see Broken).
func Check(ctx context.Context, cfg CheckConfig, tenants []uuid.UUID) ([]Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		if tenants, err = allTenants(ctx, cfg.Source, cfg.Store); err != nil {
			return nil, err
		}
	}
	out := make([]Report, 0, len(tenants))
	for _, t := range tenants {
		r, _, err := checkTenant(ctx, cfg, t)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// allTenants is the union of the tenants with a chain and with anchors: a
// tenant whose whole chain was deleted still has anchors, and is reported.
func allTenants(ctx context.Context, src audit.Source, store Store) ([]uuid.UUID, error) {
	a, err := src.AuditTenants(ctx)
	if err != nil {
		return nil, err
	}
	b, err := store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, t := range append(a, b...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
